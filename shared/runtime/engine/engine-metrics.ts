/**
 * The engine's instruments, registered once per worker under the constant names of shared/telemetry/names.ts.
 */
import type { Counter, Gauge, Histogram, Metrics } from "../../telemetry/metrics.ts";
import { M } from "../../telemetry/names.ts";

/** Outcome label values of `eventsOut`. */
export type Outcome = "passed" | "persisted" | "duplicate" | "dead_lettered";

/** Every series the engine records. */
export class EngineMetrics {
  readonly eventsIn: Counter;
  readonly eventsOut: Counter;
  readonly sourceEvents: Counter;
  readonly batchSeconds: Histogram;
  readonly batchesInFlight: Gauge;
  readonly stageRetries: Counter;
  readonly batchesAbandoned: Counter;
  readonly deadLettered: Counter;
  readonly commits: Counter;
  readonly partitionsPaused: Gauge;
  readonly consumerLag: Gauge;
  readonly assignedPartitions: Gauge;
  readonly skippedOffsets: Counter;
  readonly rereadEvents: Counter;

  constructor(readonly registry: Metrics) {
    const m = registry;
    this.eventsIn = m.counter(M.eventsIn);
    this.eventsOut = m.counter(M.eventsOut);
    this.sourceEvents = m.counter(M.sourceEvents);
    this.batchSeconds = m.histogram(M.batchSeconds);
    this.batchesInFlight = m.gauge(M.batchesInFlight);
    this.stageRetries = m.counter(M.stageRetries);
    this.batchesAbandoned = m.counter(M.batchesAbandoned);
    this.deadLettered = m.counter(M.deadLettered);
    this.commits = m.counter(M.commits);
    this.partitionsPaused = m.gauge(M.partitionsPaused);
    this.consumerLag = m.gauge(M.consumerLag);
    this.assignedPartitions = m.gauge(M.assignedPartitions);
    this.skippedOffsets = m.counter(M.skippedOffsets);
    this.rereadEvents = m.counter(M.rereadEvents);
    this.batchesInFlight.set({}, 0);
    this.partitionsPaused.set({}, 0);
    this.assignedPartitions.set({}, 0);
  }
}
