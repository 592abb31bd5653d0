/** The resolved config of the Kafka sink (see spec.ts for what each setting means to users). */

/** How an event is laid out in its Kafka record (CloudEvents Kafka protocol binding). */
export type KafkaSinkMode = "structured" | "binary";

export interface KafkaSinkStageConfig {
  kind: "kafkaSink";
  name: string;
  /** Bootstrap list of the cluster produced to (security settings go in `properties`). */
  brokers: string;
  topic: string;
  /** The attribute (or extension) whose value keys each record; records with the attribute absent are keyless. */
  key: string;
  mode: KafkaSinkMode;
  /** A record larger than this is dead-lettered (KAFKA_SINK_RECORD_TOO_LARGE); the producer's message.max.bytes. */
  maxRecordBytes: number;
  /** How long the producer retries one record before the batch fails as retriable (message.timeout.ms). */
  deliveryTimeoutMs: number;
  /** librdkafka producer properties, verbatim; never logged. */
  properties: Record<string, string>;
}

/** Producer properties the sink owns: its exactness argument depends on them. */
export const OWNED_PROPERTIES: Readonly<Record<string, string>> = { "enable.idempotence": "true", acks: "all" };

/** Properties a user may not set: they would break the exactness argument or belong to another setting. */
export const FORBIDDEN_PROPERTIES: Readonly<Record<string, string>> = {
  "enable.idempotence": "the Kafka sink always produces idempotently",
  acks: "the Kafka sink always waits for acks=all (an acknowledged record is on every in-sync replica)",
  "request.required.acks": "the Kafka sink always waits for acks=all",
  "bootstrap.servers": "set `brokers` instead",
  "message.max.bytes": "set `maxRecordBytes` instead",
  "message.timeout.ms": "set `deliveryTimeout` instead",
  "delivery.timeout.ms": "set `deliveryTimeout` instead",
  "transactional.id": "the Kafka sink does not produce in transactions (see its explain output for the crash window)",
};
