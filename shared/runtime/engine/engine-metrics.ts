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
    this.eventsIn = m.counter(M.eventsIn, "Events entering a stage, by stage.");
    this.eventsOut = m.counter(M.eventsOut, "Events leaving a stage, by stage and outcome (passed|persisted|duplicate|dead_lettered).");
    this.sourceEvents = m.counter(M.sourceEvents, "Events consumed from Kafka.");
    this.batchSeconds = m.histogram(M.batchSeconds, "Batch latency by stage; stage=pipeline is consume-to-commit-ready.");
    this.batchesInFlight = m.gauge(M.batchesInFlight, "Batches between consume and commit.");
    this.stageRetries = m.counter(M.stageRetries, "Retries of a stage (or dead-letter delivery) after a retriable error, by stage and code.");
    this.batchesAbandoned = m.counter(M.batchesAbandoned, "In-flight batches abandoned uncommitted at a revocation or shutdown deadline (re-delivered, then deduplicated).");
    this.deadLettered = m.counter(M.deadLettered, "Events sent to the dead-letter topic and acknowledged, by stage and code.");
    this.commits = m.counter(M.commits, "Offset commits acknowledged by the group coordinator.");
    this.partitionsPaused = m.gauge(M.partitionsPaused, "Assigned partitions currently paused (backpressure or a retrying batch).");
    this.consumerLag = m.gauge(M.consumerLag, "Consumer lag (high watermark - committed offset) per assigned partition.");
    this.assignedPartitions = m.gauge(M.assignedPartitions, "Partitions assigned to this worker.");
    this.skippedOffsets = m.counter(
      M.skippedOffsets,
      "Offsets the position jumped over without delivering them, by reason: deleted_before_read (retention deleted unread events: lost) or reset_backward (the log moved back: re-read).",
    );
    this.rereadEvents = m.counter(M.rereadEvents, "Events delivered again after a backward reset (the table drops them as duplicates).");
    this.batchesInFlight.set({}, 0);
    this.partitionsPaused.set({}, 0);
    this.assignedPartitions.set({}, 0);
  }
}
