/**
 * The engine's one retry loop, shared by the stages and the dead-letter producer: a TopofleetError with
 * `retriable: true` is retried after a backoff, forever (a batch is never skipped: skipping would commit
 * past events that did not reach their sink); anything else is rethrown at once and stops the worker.
 * The loop ends early only when the batch is abandoned (shutdown or revocation deadline), via `signal`.
 */
import { RuntimeError, isRetriable } from "../../errors/index.ts";
import { Backoff, type BackoffPolicy } from "../../timing/backoff.ts";
import { sleep } from "../../timing/sleep.ts";
import { RETRY_BACKOFF } from "./budgets.ts";

/** Hooks around the retries of one operation. */
export interface RetryHooks {
  /** Aborted when the batch is abandoned; the loop then rejects with RUNTIME_SHUTDOWN_TIMEOUT. */
  signal?: AbortSignal;
  /** Default RETRY_BACKOFF (the topology's `retry:` section). */
  backoff?: BackoffPolicy;
  /** Called before each backoff sleep (first call: attempt 0): log, count, pause partitions. */
  onRetry?(err: unknown, attempt: number, delayMs: number): void;
  /** Called once when the operation succeeds after at least one retry: resume partitions. */
  onRecovered?(attempts: number): void;
}

/** The error a retry loop rejects with when its batch was abandoned. */
export function abandonedError(what: string): RuntimeError {
  return new RuntimeError("RUNTIME_SHUTDOWN_TIMEOUT", `${what}: abandoned before it could finish (shutdown or revocation deadline)`, {
    retriable: false,
    context: { abandoned: true },
  });
}

/** Runs `op` until it succeeds, retrying retriable errors with exponential backoff and jitter. */
export async function retrying<T>(what: string, op: () => Promise<T>, hooks: RetryHooks = {}): Promise<T> {
  const backoff = new Backoff(hooks.backoff ?? RETRY_BACKOFF);
  for (let attempt = 0; ; attempt++) {
    if (hooks.signal?.aborted) throw abandonedError(what);
    try {
      const out = await op();
      if (attempt > 0) hooks.onRecovered?.(attempt);
      return out;
    } catch (err) {
      if (hooks.signal?.aborted) throw abandonedError(what);
      if (!isRetriable(err)) throw err;
      const delay = backoff.next();
      hooks.onRetry?.(err, attempt, delay);
      await sleep(delay, hooks.signal);
    }
  }
}
