/**
 * When to restart a crashed worker, and when to give up. Pure (time is passed in) so the rules are unit
 * tested without processes. One policy instance per worker slot: a slot that keeps crashing is a crash
 * loop even when its neighbours are fine.
 */
import { Backoff } from "../../timing/backoff.ts";

/** Backoff and crash-loop limits. */
export interface RestartOptions {
  /** First restart delay; doubles after each crash. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** A worker that stayed up this long resets the backoff to `initialDelayMs`. */
  resetAfterMs: number;
  /** `maxCrashes` crashes within `windowMs` is a crash loop: the supervisor gives up. */
  maxCrashes: number;
  windowMs: number;
}

/** 250 ms doubling to 30 s, reset after 60 s up; 5 crashes within 60 s is a crash loop. */
export const DEFAULT_RESTART: RestartOptions = {
  initialDelayMs: 250,
  maxDelayMs: 30_000,
  resetAfterMs: 60_000,
  maxCrashes: 5,
  windowMs: 60_000,
};

/** Verdict after a crash: restart after `delayMs`, or give up. */
export type RestartVerdict = { action: "restart"; delayMs: number; crashesInWindow: number } | { action: "give-up"; crashesInWindow: number };

/** Crash history of one worker slot. */
export class RestartPolicy {
  private crashes: number[] = [];
  private readonly backoff: Backoff;

  constructor(private readonly opts: RestartOptions = DEFAULT_RESTART) {
    // No jitter: each slot restarts on its own schedule, and a predictable delay is easier to operate.
    this.backoff = new Backoff({ initialMs: opts.initialDelayMs, maxMs: opts.maxDelayMs, multiplier: 2, jitter: "none" });
  }

  /** Records a crash at `now` of a worker that had been up `uptimeMs`, and says what to do. */
  onCrash(now: number, uptimeMs: number): RestartVerdict {
    if (uptimeMs >= this.opts.resetAfterMs) this.backoff.reset();
    this.crashes = this.crashes.filter((t) => now - t < this.opts.windowMs);
    this.crashes.push(now);
    const crashesInWindow = this.crashes.length;
    if (crashesInWindow >= this.opts.maxCrashes) return { action: "give-up", crashesInWindow };
    const delayMs = this.backoff.next();
    return { action: "restart", delayMs, crashesInWindow };
  }
}
