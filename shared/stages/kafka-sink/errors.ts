/**
 * The Kafka sink's failure domain. It lives with the stage (not in shared/errors) so that the stage stays one
 * folder; its codes and their retriable flags are also declared in the spec's `errors` for the reference.
 */
import { TopofleetError } from "../../errors/index.ts";

/** Codes for the Kafka sink (per-record refusals are rejections with KAFKA_SINK_RECORD_* codes, not errors). */
export type KafkaSinkErrorCode =
  | "KAFKA_SINK_UNAVAILABLE" // brokers down, leader moving, delivery timed out: retriable
  | "KAFKA_SINK_FATAL" // the producer is unusable (fenced, authorization, fatal idempotence error): a new process
  | "KAFKA_SINK_CONFIG"; // producer properties librdkafka refuses

/** The Kafka sink failed for a whole batch. */
export class KafkaSinkError extends TopofleetError {
  readonly domain = "kafkaSink";
  constructor(code: KafkaSinkErrorCode, message: string, opts: { retriable: boolean; cause?: unknown; context?: Record<string, unknown> }) {
    super(code, message, opts);
  }
}
