/**
 * Retry delays for a stage (or the dead-letter producer) that failed with a retriable error.
 * Exponential with "equal jitter": the delay for attempt n is uniformly drawn from [d/2, d] where
 * d = min(cap, base * 2^n). The lower half keeps a minimum spacing between attempts; the random half keeps
 * the workers of a fleet from hammering a recovering database in lock-step.
 */

/** Backoff parameters (milliseconds). */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
}

/** The engine's default: 100 ms doubling to a 10 s cap. */
export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 100, capMs: 10_000 };

/** Delay before retry number `attempt` (0-based); `random` is injectable for tests. */
export function backoffDelay(attempt: number, opts: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  // Clamp the exponent so 2^attempt never overflows into Infinity after days of retrying.
  const d = Math.min(opts.capMs, opts.baseMs * 2 ** Math.min(attempt, 30));
  return d / 2 + random() * (d / 2);
}
