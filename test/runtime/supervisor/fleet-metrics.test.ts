import { describe, expect, test } from "bun:test";
import { Metrics } from "../../../shared/telemetry/metrics.ts";
import { M } from "../../../shared/telemetry/names.ts";
import { FleetMetrics } from "../../../shared/runtime/supervisor/fleet-metrics.ts";
import { FleetProgress } from "../../../shared/runtime/supervisor/fleet-progress.ts";

/** A worker-side registry with one counter, one gauge per partition and one histogram observation. */
function workerSnapshot(events: number, lagByPartition: Record<number, number>, latency: number) {
  const m = new Metrics();
  m.counter(M.eventsIn, "events in").inc({ stage: "persist" }, events);
  for (const [p, lag] of Object.entries(lagByPartition)) m.gauge(M.consumerLag, "lag").set({ topic: "t", partition: Number(p) }, lag);
  m.histogram(M.batchSeconds, "batch").observe({ stage: "pipeline" }, latency);
  return m.snapshot();
}

describe("FleetMetrics", () => {
  test("sums counters and histograms over workers and labels gauges with the worker", () => {
    const f = new FleetMetrics();
    f.update(0, workerSnapshot(100, { 0: 5 }, 0.004));
    f.update(1, workerSnapshot(50, { 1: 7 }, 0.2));
    const agg = f.aggregate();
    expect(agg.value(M.eventsIn, { stage: "persist" })).toBe(150);
    expect(agg.value(M.consumerLag, { topic: "t", partition: 0, worker: 0 })).toBe(5);
    expect(agg.value(M.consumerLag, { topic: "t", partition: 1, worker: 1 })).toBe(7);
    const text = f.render();
    expect(text).toContain(`${M.batchSeconds}_count{stage="pipeline"} 2`);
    expect(text).toContain(`${M.batchSeconds}_bucket{stage="pipeline",le="0.005"} 1`);
    expect(text).toContain(`${M.consumerLag}{topic="t",partition="0",worker="0"} 5`);
  });

  test("newer snapshots replace older ones (no double counting across scrapes)", () => {
    const f = new FleetMetrics();
    f.update(0, workerSnapshot(100, {}, 0.01));
    f.render();
    f.update(0, workerSnapshot(120, {}, 0.01));
    expect(f.aggregate().value(M.eventsIn, { stage: "persist" })).toBe(120);
  });

  test("counters stay monotonic across a worker restart; the dead worker's gauges disappear", () => {
    const f = new FleetMetrics();
    f.update(0, workerSnapshot(100, { 0: 9 }, 0.01));
    f.retire(0);
    f.update(0, workerSnapshot(10, { 0: 3 }, 0.01)); // the restarted process counts from zero
    const agg = f.aggregate();
    expect(agg.value(M.eventsIn, { stage: "persist" })).toBe(110);
    expect(agg.value(M.consumerLag, { topic: "t", partition: 0, worker: 0 })).toBe(3);
    expect(f.render()).toContain(`${M.batchSeconds}_count{stage="pipeline"} 2`);
  });

  test("includes the supervisor's own series from the start", () => {
    const text = new FleetMetrics().render();
    for (const name of [M.workers, M.workerRestarts, M.desiredReplicas]) expect(text).toContain(`# TYPE ${name}`);
  });
});

describe("FleetProgress", () => {
  const p = (events: number, lag: number, deletedBeforeRead = 0) => ({ events, persisted: events - 2, duplicates: 1, invalid: 1, filtered: 0, lag, deletedBeforeRead, resetBackward: 0, reread: 0 });

  test("sums live workers and keeps the counts of exited ones", () => {
    const f = new FleetProgress();
    f.update(0, p(10, 4));
    f.update(1, p(20, 6));
    expect(f.totals()).toEqual({ events: 30, persisted: 26, duplicates: 2, invalid: 2, filtered: 0, lag: 10, deletedBeforeRead: 0, resetBackward: 0, reread: 0 });
    f.retire(1);
    f.update(1, p(5, 1, 7));
    expect(f.totals()).toEqual({ events: 35, persisted: 29, duplicates: 3, invalid: 3, filtered: 0, lag: 5, deletedBeforeRead: 7, resetBackward: 0, reread: 0 });
    f.retire(1);
    expect(f.totals().deletedBeforeRead).toBe(7);
  });

  test("lag is unknown (-1) when any live worker cannot measure it, or none runs", () => {
    const f = new FleetProgress();
    expect(f.totals().lag).toBe(-1);
    f.update(0, p(1, 3));
    f.update(1, p(1, -1));
    expect(f.totals().lag).toBe(-1);
  });

  /** A partition's report: committed base at assignment and newest commit, each with a cumulative tally. */
  const part = (partition: number, base: [number, number], committed: [number, number]) => {
    const pos = ([offset, events]: [number, number]) => ({ offset, tally: { events, persisted: events - Math.floor(events / 10), duplicates: Math.floor(events / 10), invalid: 0, filtered: 0 } });
    return { topic: "t", partition, base: pos(base), committed: pos(committed) };
  };
  const jumps = { deletedBeforeRead: 0, resetBackward: 0, reread: 0 };
  const withParts = (partitions: ReturnType<typeof part>[]) => ({ events: 0, persisted: 0, duplicates: 0, invalid: 0, filtered: 0, lag: 0, ...jumps, partitions });

  test("with partition positions, counts are the newest committed tally minus the oldest base, per partition", () => {
    const f = new FleetProgress();
    // A fleet joining a group that had committed 100 events of partition 0 before: those do not count.
    f.update(0, withParts([part(0, [100, 100], [300, 300]), part(1, [-1001, 0], [50, 50])]));
    expect(f.totals()).toEqual({ events: 250, persisted: 225, duplicates: 25, invalid: 0, filtered: 0, lag: 0, ...jumps });
  });

  test("a worker killed after its last report loses nothing: the next owner reports the dead one's last commit as its base", () => {
    const f = new FleetProgress();
    f.update(0, withParts([part(0, [-1001, 0], [400, 400])]));
    // Worker 0 committed up to 700 after that report, then was SIGKILLed: its last 300 events were never reported.
    f.retire(0);
    // Its restart (or another worker) reads the committed offset and tally at assignment and reports them first.
    f.update(0, withParts([part(0, [700, 700], [700, 700])]));
    expect(f.totals().events).toBe(700);
    f.update(0, withParts([part(0, [700, 700], [1000, 1000])]));
    expect(f.totals()).toEqual({ events: 1000, persisted: 900, duplicates: 100, invalid: 0, filtered: 0, lag: 0, ...jumps });
  });

  test("a stale report never moves a partition backwards, and an older base found later still counts from there", () => {
    const f = new FleetProgress();
    f.update(1, withParts([part(0, [500, 500], [800, 800])]));
    f.update(0, withParts([part(0, [200, 200], [500, 500])]));
    expect(f.totals().events).toBe(600);
  });
});
