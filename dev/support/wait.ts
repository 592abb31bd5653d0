/** Polling for tests and dev tools: the one `waitFor` every suite, bench and fault harness uses. */

/** How long and how often `waitFor` polls, and what it names in its timeout error. */
export interface WaitOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** What is awaited, for the timeout message (default "condition"). */
  what?: string;
  /** Pause between checks (default 50 ms). */
  everyMs?: number;
}

/** Polls `predicate` until it returns a truthy value and resolves with it; throws naming `what` after `timeoutMs`. */
export async function waitFor<T>(predicate: () => T | Promise<T>, opts: WaitOptions = {}): Promise<NonNullable<T>> {
  const { timeoutMs = 30_000, what = "condition", everyMs = 50 } = opts;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await predicate();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(everyMs);
  }
}
