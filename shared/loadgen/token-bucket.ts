/**
 * A token bucket that refills continuously (tokens accrue with elapsed time, not once per second), so a
 * producer that takes small batches from it runs at a steady rate instead of bursting a second's worth at
 * the top of each second. The capacity bounds catch-up after a stall: time lost beyond it is not made up.
 */

/** Steady-rate limiter: `take(n)` resolves once n tokens have accrued and consumes them. */
export class TokenBucket {
  private tokens = 0;
  private last: number;

  /**
   * @param ratePerSec tokens added per second (> 0)
   * @param capacity most tokens that can accrue; raised to at least the largest `take`
   * @param now monotonic clock in ms (injectable for tests)
   */
  constructor(
    readonly ratePerSec: number,
    private capacity: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(ratePerSec > 0 && Number.isFinite(ratePerSec))) throw new RangeError(`rate must be a finite number > 0, got ${ratePerSec}`);
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) * this.ratePerSec) / 1000);
    this.last = t;
  }

  /** Tokens available right now (fractional). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  /** Consumes n tokens if they are available now; true when it did. */
  tryTake(n: number): boolean {
    this.refill();
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /** Milliseconds until n tokens will have accrued (0 when they already have). */
  waitMs(n: number): number {
    this.refill();
    return this.tokens >= n ? 0 : ((n - this.tokens) * 1000) / this.ratePerSec;
  }

  /** Waits until n tokens are available and takes them; resolves false if `signal` aborts first. */
  async take(n: number, signal?: AbortSignal): Promise<boolean> {
    if (n > this.capacity) this.capacity = n;
    for (;;) {
      if (signal?.aborted) return false;
      if (this.tryTake(n)) return true;
      await sleepUnlessAborted(Math.max(1, Math.ceil(this.waitMs(n))), signal);
    }
  }
}

/** Sleeps `ms`, waking early when the signal aborts. */
export function sleepUnlessAborted(ms: number, signal?: AbortSignal): Promise<void> {
  if (!signal) return Bun.sleep(ms);
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
