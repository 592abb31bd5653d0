/**
 * The resolved topology: what a topology file means after interpolation, validation and defaults.
 * Everything downstream trusts these types; only shared/topology/ ever looks at raw YAML.
 * Durations are milliseconds, sizes are bytes.
 */
import type { StageConfig } from "../stages/registry.ts";
import type { BackoffPolicy } from "../timing/backoff.ts";

/** A real Kafka cluster. */
export interface KafkaSourceConfig {
  kind: "kafka";
  brokers: string; // comma-separated bootstrap list
  topics: string[]; // names; an entry starting with "^" is a regex subscription
  group: string;
  start: "earliest" | "latest";
  membership: GroupMembership;
  /** Passed verbatim to librdkafka (TLS, SASL, tuning). Never logged. */
  properties: Record<string, string>;
}

/** How workers belong to the consumer group (see kafka-config.ts for the librdkafka properties). */
export interface GroupMembership {
  /** Each worker slot joins with a stable group.instance.id (static membership). */
  static: boolean;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
}

/** The in-process librdkafka mock cluster with an optional built-in CloudEvents generator (demo, tests). */
export interface MockSourceConfig {
  kind: "mock";
  brokers: number;
  partitions: number;
  topics: string[];
  group: string;
  start: "earliest" | "latest";
  membership: GroupMembership;
  properties: Record<string, string>;
  generator: GeneratorConfig | null;
}

/** Built-in CloudEvents generator that feeds the mock cluster. */
export interface GeneratorConfig {
  rate: number; // events per second
  events: number | null; // stop after this many; null = run until stopped
  tenants: number;
  duplicateRatio: number; // 0..1
  invalidRatio: number; // 0..1
  binaryRatio: number; // 0..1, share sent in CloudEvents binary mode
  payloadBytes: number;
}

export type SourceConfig = KafkaSourceConfig | MockSourceConfig;

export type { StageConfig } from "../stages/registry.ts";
export type { StageConfigBase } from "../stages/spec.ts";
export type { EnrichStageConfig, LookupConfig } from "../stages/enrich/config.ts";
export type { DedupeStageConfig } from "../stages/dedupe/config.ts";
export type { LimitStageConfig, TenantLimit } from "../stages/limit/config.ts";
export type { PersistStageConfig, ColumnMapping } from "../stages/persist/config.ts";
export type { CustomStageConfig } from "../stages/custom/config.ts";

/** OpenTelemetry tracing of batches (off when `endpoint` is null: the SDK is then never loaded). */
export interface TracingConfig {
  /** OTLP/HTTP traces endpoint, e.g. http://collector:4318/v1/traces; null: tracing off. */
  endpoint: string | null;
  /** Share of batches traced, 0..1 (TraceIdRatioBased on the batch span). */
  sampling: number;
  serviceName: string;
  /** Extra HTTP headers of the export requests (auth). Never logged. */
  headers: Record<string, string>;
  /** Spans waiting for export; past it new spans are dropped and counted. */
  maxQueueSpans: number;
  exportTimeoutMs: number;
  /** Links from events' `traceparent` per batch span (the first ones; then `topofleet.links.truncated`). */
  maxLinksPerBatch: number;
}

export interface ReplicasConfig {
  min: number;
  max: number;
  lagPerReplica: number; // target lag one replica should carry; drives local autoscaling, systemd and KEDA
  /** Fixed replicas: min === max. */
}

/** The `retry:` section: how the engine retries failing work and how long commits wait out a rebalance. */
export interface RetryConfig {
  /** Retries of a failing stage, the dead-letter producer and stage start-up. */
  backoff: BackoffPolicy;
  commit: {
    /** How long a sync commit retries while a rebalance refuses it. */
    rebalanceRetryMs: number;
    /** Longest async commits are held back during a rebalance. */
    holdMaxMs: number;
  };
}

export interface ResolvedTopology {
  /** Absolute path of the file it came from. */
  file: string;
  name: string;
  source: SourceConfig;
  stages: StageConfig[];
  deadLetter: { topic: string };
  batch: { maxEvents: number; maxBytes: number; maxWaitMs: number };
  concurrency: { replicas: ReplicasConfig; inFlightBatches: number };
  http: { port: number; host: string };
  log: { level: "trace" | "debug" | "info" | "warn" | "error" | "fatal" };
  shutdown: { deadlineMs: number };
  tracing: TracingConfig;
  retry: RetryConfig;
  /** Warnings found while loading (e.g. an inline secret); printed, not fatal. */
  warnings: string[];
}
