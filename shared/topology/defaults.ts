/**
 * Every static default of a topology file in one object. The schema descriptors read their `default`s from
 * here (so docs, JSON Schema and the validator agree), and the resolver computes the few defaults that depend
 * on other values (threads from the core count, dedupe prefix from the name, DLQ topic from the first topic).
 */
import type { ColumnMapping } from "./types.ts";

/** The column mapping used when `persist.columns` is absent: each attribute into a column of the same name. */
export const DEFAULT_COLUMNS: readonly ColumnMapping[] = (
  ["id", "source", "type", "subject", "time", "tenant", "data", "extensions", "ingested_at", "kafka_partition", "kafka_offset"] as const
).map((from) => ({ column: from, from }));

/** Static defaults, in the units the resolved topology uses (ms, bytes). */
export const TOPOLOGY_DEFAULTS = {
  source: {
    start: "earliest" as const,
    staticMembership: true,
    // Several restarts of a crashed worker (250 ms backoff doubling, ~1-3 s start-up) fit in it; a worker that
    // does not come back (host lost, crash loop) hands its partitions over after it.
    sessionTimeoutMs: 10_000,
    mock: { brokers: 1, partitions: 8, topics: ["events"] },
    generator: {
      rate: 20_000,
      tenants: 8,
      duplicateRatio: 0,
      invalidRatio: 0,
      binaryRatio: 0,
      payloadBytes: 256,
    },
  },
  enrich: { ingestTimestamp: true, tenantFromSource: false, maxEventBytes: 1024 * 1024, maxAttributes: 256, sliceTimeoutMs: 30_000 },
  lookup: { refreshMs: 5 * 60_000 },
  dedupe: {
    backend: "redis" as const,
    redisUrl: "redis://127.0.0.1:6379",
    redisMode: "auto" as const,
    keyFields: ["source", "id"],
    expectedPerWindow: 10_000_000,
    falsePositiveRate: 0.001,
    windowMs: 3_600_000,
    perTenant: false,
    tenantFilters: 16,
    bloom: { expansion: 2, nonScaling: false, maxFilters: 4 },
    onMaybeSeen: "verify" as const,
    onRedisDown: "fail" as const,
  },
  limit: {
    redisUrl: "redis://127.0.0.1:6379",
    per: 1_000,
    quotaWindowMs: 86_400_000,
    onLimit: "delay" as const,
    maxDelayMs: 10_000,
    maxHeldEvents: 100_000,
    maxHeldBatches: 64,
    onRedisDown: "fail" as const,
    metricsTopTenants: 20,
  },
  persist: {
    schema: "public",
    table: "events",
    connections: 4,
    manageSchema: true,
    partitionsAheadDays: 3,
    retentionDays: 90,
    maintenanceIntervalMs: 10 * 60_000,
    ginIndexOnData: false,
    method: "copy" as const,
  },
  batch: { maxEvents: 5_000, maxBytes: 8 * 1024 * 1024, maxWaitMs: 50 },
  concurrency: { replicas: 1, lagPerReplica: 100_000, inFlightBatches: 4 },
  http: { port: 9464, host: "0.0.0.0" },
  log: { level: "info" as const },
  shutdown: { deadlineMs: 30_000 },
  tracing: { sampling: 1, maxQueueSpans: 2_048, exportTimeoutMs: 10_000, maxLinksPerBatch: 128 },
};

/** The resolved tracing of a topology without a `tracing:` endpoint. */
export const TRACING_OFF = {
  endpoint: null,
  sampling: TOPOLOGY_DEFAULTS.tracing.sampling,
  serviceName: "topofleet",
  headers: {},
  maxQueueSpans: TOPOLOGY_DEFAULTS.tracing.maxQueueSpans,
  exportTimeoutMs: TOPOLOGY_DEFAULTS.tracing.exportTimeoutMs,
  maxLinksPerBatch: TOPOLOGY_DEFAULTS.tracing.maxLinksPerBatch,
} as const;
