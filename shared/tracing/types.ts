/**
 * The tracing interfaces the engine drives (batch spans, step spans, commit spans). Apart from api.ts so that the
 * OpenTelemetry implementation (otel.ts, imported lazily by api.ts) and the engine both depend on them, not on each other.
 */
import type { TopicPartitionOffset } from "../kafka/types.ts";
import type { Batch } from "../stages/batch.ts";

/** Event counts per EventStatus (Live, Persisted, Duplicate, DeadLettered, Held). */
export type SpanCounts = readonly number[];

/** A span of one step (a stage, or the dead-letter step) of one batch. */
export interface StepSpan {
  /** Ends the span with the batch's status counts after the step. */
  end(counts: SpanCounts): void;
  /** Ends the span as failed. */
  fail(err: unknown): void;
}

/** The spans of one sampled batch. */
export interface BatchTrace {
  /** Starts the span of a step as a child of the batch span; `live` is the events it is given. */
  stage(name: string, live: number): StepSpan;
  /** Ends the batch span (and any step span still open); `err` when the batch failed. */
  end(counts: SpanCounts, err: unknown): void;
}

/** Batch spans and commit spans of one worker. */
export interface PipelineTracing {
  /** Starts the trace of a batch, or null when the batch is not sampled. `fetchStartedAt` (epoch ms) opens the consume span. */
  startBatch(batch: Batch, fetchStartedAt: number | undefined): BatchTrace | null;
  /** An offset commit went out. */
  commitIssued(offsets: readonly TopicPartitionOffset[], sync: boolean): void;
  /** That commit's outcome (null: acknowledged). */
  commitSettled(offsets: readonly TopicPartitionOffset[], sync: boolean, error: unknown): void;
  /** Exports what is queued within `timeoutMs`, then stops (spans still queued are dropped and counted). */
  shutdown(timeoutMs: number): Promise<void>;
}
