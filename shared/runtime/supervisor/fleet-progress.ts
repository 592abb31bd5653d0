/**
 * Fleet-wide progress: the sum of every worker's `WorkerProgress`, for --max-events, the live line, the
 * summary and the autoscaler's lag. Like metrics, progress is cumulative per worker process, so the last
 * report of an exited process is kept in `retired` and the live ones are summed on demand.
 *
 * A worker killed without a `stopped` message loses whatever it committed after its last `status` (at most
 * one status interval): the summary then under-counts; the database and the committed offsets stay exact.
 */
import type { WorkerProgress } from "../ipc.ts";

/** Totals over the fleet; `lag` is -1 when any live worker could not measure its lag (or none runs). */
export type FleetTotals = WorkerProgress;

const zero = (): WorkerProgress => ({ events: 0, persisted: 0, duplicates: 0, invalid: 0, lag: 0 });

/** Sums progress over live and exited worker processes. */
export class FleetProgress {
  private readonly live = new Map<number, WorkerProgress>();
  private readonly retired = zero();

  /** Records the latest cumulative progress of worker `id`. */
  update(id: number, p: WorkerProgress): void {
    this.live.set(id, { ...p });
  }

  /** Worker `id`'s process ended: its counts become permanent, its lag no longer counts. */
  retire(id: number): void {
    const p = this.live.get(id);
    if (!p) return;
    this.retired.events += p.events;
    this.retired.persisted += p.persisted;
    this.retired.duplicates += p.duplicates;
    this.retired.invalid += p.invalid;
    this.live.delete(id);
  }

  /** Current totals. */
  totals(): FleetTotals {
    const t = { ...this.retired, lag: this.live.size ? 0 : -1 };
    for (const p of this.live.values()) {
      t.events += p.events;
      t.persisted += p.persisted;
      t.duplicates += p.duplicates;
      t.invalid += p.invalid;
      if (t.lag >= 0) t.lag = p.lag < 0 ? -1 : t.lag + p.lag;
    }
    return t;
  }
}
