/**
 * A FIFO mutex over PGlite's single backend session. PGlite is one PostgreSQL backend, so every client
 * connection of the embedded server shares it; whoever holds this lock owns the session until its
 * extended-protocol exchange (up to Sync) or its transaction ends.
 */
export class SessionLock {
  private held = false;
  private readonly waiters: Array<() => void> = [];

  /** Resolves when the caller owns the session. */
  acquire(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Hands the session to the next waiter, or frees it. */
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.held = false;
  }

  /** Number of connections waiting for the session (for stats and tests). */
  get waiting(): number {
    return this.waiters.length;
  }
}
