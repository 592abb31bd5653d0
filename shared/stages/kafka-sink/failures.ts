/**
 * The one table that decides what a failed delivery means: a refusal of that one record (dead-letter it) or
 * a failure of the batch (retriable or fatal, from the binding's flags). Names are librdkafka's.
 */
import { KafkaError } from "../../kafka/errors.ts";
import { KafkaSinkError } from "./errors.ts";
import type { Rejection } from "../batch.ts";

/** librdkafka error names that refuse one record for what it is: a retry would be refused again. */
const RECORD_REFUSALS: Readonly<Record<string, string>> = {
  MSG_SIZE_TOO_LARGE: "KAFKA_SINK_RECORD_TOO_LARGE",
  INVALID_RECORD: "KAFKA_SINK_RECORD_INVALID",
  CORRUPT_MESSAGE: "KAFKA_SINK_RECORD_INVALID",
  INVALID_MSG: "KAFKA_SINK_RECORD_INVALID",
};

/** Dead-letter codes of the Kafka sink, with their meaning (the spec lists them). */
export const KAFKA_SINK_REJECTIONS: Readonly<Record<string, string>> = {
  KAFKA_SINK_RECORD_TOO_LARGE: "the record (event plus headers) is larger than `maxRecordBytes` or the topic's max.message.bytes",
  KAFKA_SINK_RECORD_INVALID: "the broker refused the record itself (INVALID_RECORD, CORRUPT_MESSAGE)",
};

/** The rejection for a record refused alone, or null when the failure concerns the batch. */
export function recordRefusal(err: KafkaError): Omit<Rejection, "stage"> | null {
  const code = RECORD_REFUSALS[err.code];
  return code ? { code, reason: `${err.message} (${err.code})` } : null;
}

/** A failure of the whole batch as the engine acts on it: retriable unless the producer is broken or refused for good. */
export function batchFailure(stage: string, err: unknown, unsettled: number): KafkaSinkError {
  const kafka = err instanceof KafkaError ? err : null;
  const retriable = kafka !== null && kafka.retriable && !kafka.fatal;
  const message = `kafka sink "${stage}": ${unsettled} record(s) not acknowledged: ${err instanceof Error ? err.message : String(err)}`;
  return new KafkaSinkError(retriable ? "KAFKA_SINK_UNAVAILABLE" : "KAFKA_SINK_FATAL", message, {
    retriable,
    cause: err,
    context: { kafkaCode: kafka?.code, fatal: kafka?.fatal ?? false, unsettled },
  });
}
