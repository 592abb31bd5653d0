/**
 * Bounds the Redis commands in flight across all batches of a stage: enough to keep Redis busy while the
 * client encodes the next chunk, few enough that a huge batch does not buffer tens of MB in the socket.
 */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly max: number) {
    if (!(max >= 1)) throw new RangeError(`limiter needs max >= 1, got ${max}`);
  }

  /** Runs `fn` when a slot is free; the slot is released when its promise settles. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      // Hand the slot straight to the next waiter (active stays the same) or give it back.
      if (next) next();
      else this.active--;
    }
  }
}
