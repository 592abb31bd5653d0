/**
 * The one backoff helper: every retry loop in the code base (stage and dead-letter retries, stage start-up,
 * sync commits during a rebalance, committed-offset reads, Redis reconnects, worker restarts) draws its delays
 * here. Exponential from `initialMs` by `multiplier` up to `maxMs`, with a jitter mode:
 * - "none": exactly the exponential ceiling (deterministic spacing where only one client retries);
 * - "equal": uniform in [d/2, d]: a minimum spacing plus a random half, so a fleet does not retry in lock-step;
 * - "full": uniform in [0, d]: the widest spread, for many clients hitting one recovering server;
 * - "decorrelated": uniform in [initialMs, previous * multiplier], capped at maxMs (AWS's variant): grows
 *   like the exponential but each delay depends on the last drawn one, not on the attempt number.
 * A leaf module (imports nothing of ours), so the Kafka binding, the stages and the runtime can all use it.
 */

/** How delays are randomised around the exponential ceiling. */
export type Jitter = "none" | "equal" | "full" | "decorrelated";

/** The jitter modes, for validation. */
export const JITTERS: readonly Jitter[] = ["none", "equal", "full", "decorrelated"];

/** Backoff parameters (milliseconds). */
export interface BackoffPolicy {
  /** Delay ceiling of the first retry. */
  initialMs: number;
  /** No delay exceeds this. */
  maxMs: number;
  /** Growth factor per retry (>= 1). */
  multiplier: number;
  jitter: Jitter;
}

/** The exponential ceiling before retry `attempt` (0-based): min(maxMs, initialMs * multiplier^attempt). */
export function backoffCeiling(attempt: number, p: BackoffPolicy): number {
  // Clamp the exponent so the power never overflows into Infinity after days of retrying.
  return Math.min(p.maxMs, p.initialMs * p.multiplier ** Math.min(attempt, 64));
}

/**
 * Delay before retry `attempt` (0-based). `previousMs` is the delay drawn before (decorrelated jitter only;
 * the first retry has none); `random` is injectable for tests.
 */
export function backoffDelay(attempt: number, p: BackoffPolicy, random: () => number = Math.random, previousMs?: number): number {
  const d = backoffCeiling(attempt, p);
  switch (p.jitter) {
    case "none":
      return d;
    case "equal":
      return d / 2 + random() * (d / 2);
    case "full":
      return random() * d;
    case "decorrelated": {
      const upper = Math.max(p.initialMs, (previousMs ?? p.initialMs) * p.multiplier);
      return Math.min(p.maxMs, p.initialMs + random() * (upper - p.initialMs));
    }
  }
}

/** The successive delays of one retry loop (keeps the attempt count and, for decorrelated jitter, the last delay). */
export class Backoff {
  private attempt = 0;
  private previous: number | undefined;

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly random: () => number = Math.random,
  ) {}

  /** Retries drawn so far. */
  get attempts(): number {
    return this.attempt;
  }

  /** The delay before the next retry. */
  next(): number {
    const d = backoffDelay(this.attempt++, this.policy, this.random, this.previous);
    this.previous = d;
    return d;
  }

  /** Starts over from `initialMs` (the operation succeeded, or stayed healthy long enough). */
  reset(): void {
    this.attempt = 0;
    this.previous = undefined;
  }
}
