/**
 * Bisection for rows the database refuses. A rejected statement tells which SQLSTATE but not reliably
 * which row, so a failing chunk is split in halves and each half retried until every refused row stands
 * alone. Each successful half commits on its own, so one bad row costs about two extra writes per level
 * (log2 of the chunk size) and never holds back the rest of the batch.
 */

/** How the caller writes, recognises row-level refusals, and records an isolated bad row. */
export interface IsolateOps<T> {
  write(items: readonly T[]): Promise<void>;
  isRowError(err: unknown): boolean;
  rejectOne(item: T, err: unknown): void;
}

/** Writes `items`; row-level refusals are narrowed to single items and rejected; other errors propagate. */
export async function writeIsolating<T>(items: readonly T[], ops: IsolateOps<T>): Promise<void> {
  if (items.length === 0) return;
  try {
    await ops.write(items);
  } catch (err) {
    if (!ops.isRowError(err)) throw err;
    if (items.length === 1) return ops.rejectOne(items[0], err);
    const mid = items.length >>> 1;
    await writeIsolating(items.slice(0, mid), ops);
    await writeIsolating(items.slice(mid), ops);
  }
}
