/**
 * The resolved topology: what a topology file means after interpolation, validation and defaults.
 * Everything downstream trusts these types; only shared/topology/ ever looks at raw YAML.
 * Durations are milliseconds, sizes are bytes.
 */

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

/** A lookup table joined into events by the enrich stage. */
export type LookupConfig =
  | { kind: "file"; name: string; path: string; key: string; into: string }
  | { kind: "postgres"; name: string; url: string; query: string; key: string; into: string; refreshMs: number };

export interface EnrichStageConfig {
  kind: "enrich";
  name: string;
  threads: number; // piscina threads per worker
  ingestTimestamp: boolean; // add `ingestedat` extension / column
  tenantFromSource: boolean; // derive tenant from the source path's first segment when `tenantid` is absent
  maxEventBytes: number; // larger payloads are rejected (dead-lettered)
  maxAttributes: number; // events with more attributes are rejected (dead-lettered)
  sliceTimeoutMs: number; // deadline of one slice in an enrich thread
  lookups: LookupConfig[];
  module: string | null; // absolute path of a user enrich module
}

export interface DedupeStageConfig {
  kind: "dedupe";
  name: string;
  backend: "redis" | "memory";
  redisUrl: string; // may carry a password / rediss:// TLS; never logged
  prefix: string; // key prefix for filters
  keyFields: string[]; // CloudEvents attributes forming the identity; default ["source", "id"]
  expectedPerWindow: number;
  falsePositiveRate: number;
  windowMs: number; // filter rotation period; current and previous window are checked
  perTenant: boolean; // tenants hashed onto `tenantFilters` filters, hash-tagged for Redis Cluster
  /** With perTenant: how many filters tenants are hashed onto; they share expectedPerWindow (see dedupe/sizing.ts). */
  tenantFilters: number;
  /** BF.* growth past capacity: EXPANSION, NONSCALING, and the cap on sub-filters that bounds memory. */
  bloom: { expansion: number; nonScaling: boolean; maxFilters: number };
  onMaybeSeen: "verify" | "drop";
  onRedisDown: "fail" | "passthrough";
  /** "auto" probes for BF.* at start; "bitmap" forces the portable BITFIELD filter. */
  redisMode: "auto" | "bloom" | "bitmap";
}

/** Mapping from CloudEvents attributes to table columns, for users with their own schema. */
export interface ColumnMapping {
  column: string;
  from: "id" | "source" | "type" | "subject" | "time" | "tenant" | "data" | "extensions" | "ingested_at" | "kafka_partition" | "kafka_offset";
}

export interface PersistStageConfig {
  kind: "persist";
  name: string;
  /** PostgreSQL URL, or "embedded" for PGlite under the data dir (demo). May carry secrets; never logged. */
  url: string;
  schema: string;
  table: string;
  connections: number;
  manageSchema: boolean; // false: the user owns the table; we only insert
  partitionsAheadDays: number;
  retentionDays: number;
  maintenanceIntervalMs: number;
  ginIndexOnData: boolean;
  columns: ColumnMapping[]; // default mapping when the user gives none
  method: "copy" | "unnest";
  /**
   * How an event counts whose row is already stored from the very same Kafka record. "persisted" (the
   * default): it is this group's own re-delivery after a crash, whose first outcome was never committed.
   * "duplicate": a replay into a new group (shared/replay), where the original run already counted it.
   * Not a topology key: set by the code that runs the stage.
   */
  redelivery?: "persisted" | "duplicate";
}

export interface CustomStageConfig {
  kind: "custom";
  name: string;
  module: string; // absolute path
  options: Record<string, unknown>;
}

/** A tenant's limits: a rate (GCRA over `perMs`) and an optional quota per window. */
export interface TenantLimit {
  /** Events admitted per `perMs` on average. */
  events: number;
  perMs: number;
  /** Events a tenant may send at once above its average (the bucket size). */
  burst: number;
  /** At most this many events per `quotaWindowMs` (aligned to the epoch, e.g. UTC days); null: no quota. */
  quota: number | null;
  quotaWindowMs: number;
}

/** Per-tenant rate limits and quotas, enforced fleet-wide in Redis (one script call per batch). */
export interface LimitStageConfig {
  kind: "limit";
  name: string;
  redisUrl: string; // may carry a password / rediss:// TLS; never logged
  prefix: string; // key prefix of the per-tenant state
  /** The limit of every tenant without an override (events without a tenant count as tenant "-"). */
  defaultLimit: TenantLimit;
  /** Per-tenant overrides from the topology file. */
  tenants: Record<string, TenantLimit>;
  /** Overrides from a JSON file (tenant -> events per `defaultLimit.perMs`), read at start; null: none. */
  tenantsFile: string | null;
  /** Overrides from PostgreSQL: (tenant, events per `defaultLimit.perMs`) rows, reloaded every refreshMs; null: none. Wins over tenantsFile. */
  tenantsQuery: { url: string; query: string; refreshMs: number } | null;
  /** What happens to events over their tenant's limit. */
  onLimit: "delay" | "dead-letter" | "pass";
  /** `delay`: events that would wait longer are dead-lettered (TENANT_DELAY_TOO_LONG). */
  maxDelayMs: number;
  /** `delay`: past these many held events / batches waiting for held events, the worker stops consuming. */
  maxHeldEvents: number;
  maxHeldBatches: number;
  onRedisDown: "fail" | "passthrough";
  /** Tenants named in the metrics (the busiest ones); the others are "other". */
  metricsTopTenants: number;
}

export type StageConfig = EnrichStageConfig | DedupeStageConfig | LimitStageConfig | PersistStageConfig | CustomStageConfig;

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
  /** Warnings found while loading (e.g. an inline secret); printed, not fatal. */
  warnings: string[];
}
