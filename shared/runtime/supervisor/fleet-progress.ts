/**
 * Fleet-wide progress for --max-events, the live line, the summary and the autoscaler's lag.
 *
 * Counts come from what is durable, not from what each worker said it did: every commit stores the
 * partition's cumulative tally with the offset (engine/partition-ledger.ts), and workers report, per
 * partition, the committed position they started from (read from Kafka at assignment) and the newest one
 * they committed. Per partition the fleet counts newest minus oldest. A worker killed with `kill -9` after
 * its last report loses nothing: the partition's next owner reads the dead worker's last commit, tally
 * included, and reports it as its starting point. Reports without partitions (a worker that has not been
 * assigned anything yet) fall back to the worker's own cumulative counts.
 */
import type { PartitionProgress, LedgerPosition } from "../engine/partition-ledger.ts";
import type { WorkerProgress } from "../ipc.ts";

/** Totals over the fleet; `lag` is -1 when any live worker could not measure its lag (or none runs). */
export type FleetTotals = Omit<WorkerProgress, "partitions">;

const zero = (): FleetTotals => ({ events: 0, persisted: 0, duplicates: 0, invalid: 0, filtered: 0, lag: 0, deletedBeforeRead: 0, resetBackward: 0, reread: 0 });
const COUNTS = ["events", "persisted", "duplicates", "invalid", "filtered"] as const;
/** Offset-jump counters: per worker process (they are not in the commit ledger), summed over live and exited ones. */
const JUMPS = ["deletedBeforeRead", "resetBackward", "reread"] as const;

/**
 * Orders positions by how much they have counted, then by offset. The cumulative count only grows, while
 * the offset moves back after a backward reset of the log (truncation, recreated topic): the position
 * committed after such a reset is the newer one although its offset is lower.
 */
const after = (a: LedgerPosition, b: LedgerPosition): boolean => a.tally.events > b.tally.events || (a.tally.events === b.tally.events && a.offset > b.offset);

/** Sums durable progress per partition, and lag over the live workers. */
export class FleetProgress {
  private readonly live = new Map<number, WorkerProgress>();
  /** Per-worker counts of exited processes (used only while no partition positions are known). */
  private readonly retired = zero();
  private readonly first = new Map<string, LedgerPosition>();
  private readonly newest = new Map<string, LedgerPosition>();

  /** Records the latest cumulative progress of worker `id`. */
  update(id: number, p: WorkerProgress): void {
    this.live.set(id, { ...p, partitions: undefined });
    for (const tp of p.partitions ?? []) this.observe(tp);
  }

  /** Worker `id`'s process ended: its lag no longer counts. */
  retire(id: number): void {
    const p = this.live.get(id);
    if (!p) return;
    // `?? 0`: a worker of an older build (rolling upgrade) reports no filtered count nor offset-jump counters.
    for (const k of COUNTS) this.retired[k] += p[k] ?? 0;
    for (const k of JUMPS) this.retired[k] += p[k] ?? 0;
    this.live.delete(id);
  }

  /** Current totals. */
  totals(): FleetTotals {
    const t = zero();
    if (this.first.size > 0) {
      for (const [key, base] of this.first) {
        const top = this.newest.get(key) ?? base;
        for (const k of COUNTS) t[k] += Math.max(0, top.tally[k] - base.tally[k]);
      }
    } else {
      for (const k of COUNTS) t[k] = this.retired[k];
      for (const p of this.live.values()) for (const k of COUNTS) t[k] += p[k] ?? 0;
    }
    for (const k of JUMPS) t[k] = this.retired[k];
    for (const p of this.live.values()) for (const k of JUMPS) t[k] += p[k] ?? 0;
    t.lag = this.live.size ? 0 : -1;
    for (const p of this.live.values()) if (t.lag >= 0) t.lag = p.lag < 0 ? -1 : t.lag + p.lag;
    return t;
  }

  private observe(tp: PartitionProgress): void {
    const key = `${tp.topic}\u0000${tp.partition}`;
    const first = this.first.get(key);
    if (!first || after(first, tp.base)) this.first.set(key, tp.base);
    const newest = this.newest.get(key);
    if (!newest || after(tp.committed, newest)) this.newest.set(key, tp.committed);
  }
}
