/**
 * Events of one batch held by the `delay` policy, each with the time its reserved slot comes (epoch ms).
 * The slot is already reserved in Redis, so releasing needs no further call: only the wait.
 */
import type { Batch } from "../batch.ts";

/** The held events of one batch, released in time order. */
export class HeldEvents {
  /** [releaseAt, index] pairs, sorted by releaseAt. */
  private items: Array<[number, number]> = [];

  /** Number of events still held. */
  get size(): number {
    return this.items.length;
  }

  /** Adds held events; keeps the release order. */
  add(entries: Array<[number, number]>): void {
    this.items.push(...entries);
    this.items.sort((a, b) => a[0] - b[0]);
  }

  /** Waits for the first release time, then sets Live every event whose time has come; returns how many. */
  async release(batch: Batch, signal: AbortSignal, now: () => number): Promise<number> {
    if (this.items.length === 0) return 0;
    await sleepUnless(this.items[0][0] - now(), signal);
    const t = now();
    let k = 0;
    while (k < this.items.length && this.items[k][0] <= t) batch.unhold(this.items[k++][1]);
    this.items = this.items.slice(k);
    return k;
  }
}

/** Sleeps `ms` (nothing when <= 0); rejects with the signal's reason when it aborts first. */
function sleepUnless(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
