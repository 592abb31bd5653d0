/**
 * Aggregates the metrics of every worker into the one Prometheus page the supervisor serves.
 *
 * Worker snapshots are cumulative since that worker process started, so the aggregate is rebuilt from the
 * latest snapshot of each live worker on every scrape (merging twice would double-count). When a worker
 * process exits, its last counters and histograms are folded into `retired`, so fleet-wide counters stay
 * monotonic across restarts and scale-downs (a sum that dropped would look like a counter reset to
 * Prometheus and spike every rate()). Gauges describe the present, so a dead worker's gauges are dropped.
 */
import { Metrics, type FamilySnapshot } from "../../telemetry/metrics.ts";
import { M } from "../../telemetry/names.ts";

const splitGauges = (snap: readonly FamilySnapshot[]): [FamilySnapshot[], FamilySnapshot[]] => [
  snap.filter((f) => f.type === "gauge"),
  snap.filter((f) => f.type !== "gauge"),
];

/** Fleet-wide metrics: live worker snapshots + retired incarnations + the supervisor's own series. */
export class FleetMetrics {
  private readonly own = new Metrics();
  private readonly live = new Map<number, readonly FamilySnapshot[]>();
  private readonly retired = new Metrics();
  private readonly workers = this.own.gauge(M.workers);
  private readonly restarts = this.own.counter(M.workerRestarts);
  private readonly desired = this.own.gauge(M.desiredReplicas);

  constructor() {
    // Set up front so the series exist (at 0) before the first spawn or scaling decision.
    this.workers.set({}, 0);
    this.desired.set({}, 0);
  }

  /** Number of worker processes running now. */
  setWorkers(n: number): void {
    this.workers.set({}, n);
  }

  /** One restart of worker slot `id` after a crash. */
  countRestart(id: number): void {
    this.restarts.inc({ worker: id });
  }

  /** The replica count the fleet is aiming for. */
  setDesiredReplicas(n: number): void {
    this.desired.set({}, n);
  }

  /** Replaces worker `id`'s snapshot with a newer one (from a `status` or `stopped` message). */
  update(id: number, snapshot: readonly FamilySnapshot[]): void {
    this.live.set(id, snapshot);
  }

  /** Worker `id`'s process ended: keep its counters and histograms, drop its gauges. */
  retire(id: number): void {
    const snap = this.live.get(id);
    if (!snap) return;
    this.retired.merge(splitGauges(snap)[1]);
    this.live.delete(id);
  }

  /** The merged registry: counters and histograms summed over workers, gauges labelled with `worker`. */
  aggregate(): Metrics {
    const out = new Metrics();
    out.merge(this.own.snapshot());
    out.merge(this.retired.snapshot());
    for (const [id, snap] of [...this.live.entries()].sort((a, b) => a[0] - b[0])) {
      const [gauges, summed] = splitGauges(snap);
      out.merge(summed);
      out.merge(gauges, { worker: id });
    }
    return out;
  }

  /** Prometheus text for /metrics. */
  render(): string {
    return this.aggregate().renderPrometheus();
  }
}
