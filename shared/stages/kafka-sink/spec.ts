/**
 * The Kafka sink's spec: its `kafkaSink:` schema (the descriptions are its user documentation), resolution,
 * explain lines, error and dead-letter codes, and what it needs from enrich (structured-mode JSON built in the
 * threads). See sink.ts for the delivery guarantee and its crash window.
 */
import { ATTRIBUTE_PATTERN, kafkaProperties, stageName, TOPIC_PATTERN } from "../../config/common.ts";
import { duration, obj, size, str } from "../../config/dsl.ts";
import { defineStage } from "../spec.ts";
import { FORBIDDEN_PROPERTIES, type KafkaSinkStageConfig } from "./config.ts";
import { KAFKA_SINK_REJECTIONS } from "./failures.ts";
import { SOURCE_HEADERS } from "./records.ts";

/** Defaults of the settings that have one. */
export const KAFKA_SINK_DEFAULTS = {
  key: "id",
  mode: "structured" as const,
  maxRecordBytes: 1_000_000,
  deliveryTimeoutMs: 30_000,
};

const schema = obj({
  description:
    "Produces the enriched events to a Kafka topic as CloudEvents, idempotently with acks=all. An event counts as stored once its record " +
    "is acknowledged; the source offsets commit only after every record of the batch is. A crash between the acknowledgements and the " +
    `offset commit produces the batch again: every record carries \`${SOURCE_HEADERS.topic}\`, \`${SOURCE_HEADERS.partition}\`, ` +
    `\`${SOURCE_HEADERS.offset}\` and \`ce_id\` headers, identical on every copy, for consumers to drop re-deliveries.`,
  fields: {
    name: stageName("kafkaSink"),
    brokers: str({
      description: "Bootstrap servers of the cluster to produce to, e.g. `${KAFKA_BROKERS}`; TLS and SASL settings go in `properties`.",
      minLength: 1,
    }),
    topic: str({ description: "Topic the events are produced to.", pattern: TOPIC_PATTERN, patternHint: "a Kafka topic name" }),
    key: str({
      description: "Attribute (or extension) whose value keys each record, so one key's events keep their order in one partition; records without it are keyless.",
      pattern: ATTRIBUTE_PATTERN,
      patternHint: "a CloudEvents attribute name (lowercase a-z, 0-9)",
      default: KAFKA_SINK_DEFAULTS.key,
    }),
    mode: str({
      description:
        "CloudEvents Kafka binding: `structured` (the event as JSON in the value, content-type application/cloudevents+json) or " +
        "`binary` (attributes in `ce_` headers, the data in the value).",
      enum: ["structured", "binary"],
      default: KAFKA_SINK_DEFAULTS.mode,
    }),
    maxRecordBytes: size({
      description: "Largest record produced (the producer's message.max.bytes); a larger event is dead-lettered (KAFKA_SINK_RECORD_TOO_LARGE).",
      exclusiveMin: 0,
      default: KAFKA_SINK_DEFAULTS.maxRecordBytes,
    }),
    deliveryTimeout: duration({
      description: "How long the producer retries a record (message.timeout.ms) before the batch fails as retriable and is produced again after a backoff.",
      exclusiveMin: 0,
      default: KAFKA_SINK_DEFAULTS.deliveryTimeoutMs,
    }),
    properties: kafkaProperties,
  },
});

/** The `kafkaSink:` stage. */
export const kafkaSinkSpec = defineStage({
  kind: "kafkaSink",
  schema,
  example: { brokers: "kafka:9092", topic: "events.enriched" },
  resolve(v, ctx): KafkaSinkStageConfig {
    for (const key of Object.keys(v.properties)) {
      const why = FORBIDDEN_PROPERTIES[key];
      if (why) ctx.diag.add(`${ctx.path}.properties.${key}`, `cannot be set: ${why}`);
    }
    return {
      kind: "kafkaSink",
      name: v.name,
      brokers: v.brokers,
      topic: v.topic,
      key: v.key,
      mode: v.mode,
      maxRecordBytes: v.maxRecordBytes,
      deliveryTimeoutMs: v.deliveryTimeout,
      properties: { ...v.properties },
    };
  },
  rules: {
    order: [{ kind: "enrich", position: "before", required: true, message: "kafkaSink produces the events the enrich stage parses: put an `enrich` stage before it" }],
  },
  explain(cfg) {
    return [
      `Kafka sink ${cfg.name}: produces to topic ${cfg.topic}, ${cfg.mode} mode, keyed by \`${cfg.key}\`, idempotent with acks=all`,
      `Kafka sink ${cfg.name}: offsets commit after every record of the batch is acknowledged; a crash between the acks and that commit produces the batch again (consumers drop copies by the ${SOURCE_HEADERS.topic}/partition/offset headers)`,
      `Kafka sink ${cfg.name}: records over ${cfg.maxRecordBytes} bytes are dead-lettered (KAFKA_SINK_RECORD_TOO_LARGE); a record not acknowledged within ${cfg.deliveryTimeoutMs} ms fails the batch as retriable`,
    ];
  },
  async create(cfg) {
    return new (await import("./sink.ts")).KafkaSinkStage(cfg);
  },
  errors: {
    KAFKA_SINK_UNAVAILABLE: { retriable: true, description: "Brokers unreachable, leaders moving or a delivery timed out: the batch pauses, backs off and is produced again." },
    KAFKA_SINK_FATAL: { retriable: false, description: "The producer is unusable (a fatal idempotence error, authorization refused): the worker stops without committing and restarts." },
    KAFKA_SINK_CONFIG: { retriable: false, description: "Producer properties librdkafka refuses." },
  },
  rejections: KAFKA_SINK_REJECTIONS,
  enrichNeeds: (cfg) => ({ json: cfg.mode === "structured" }),
});
