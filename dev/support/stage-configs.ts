/**
 * One config builder per stage, with test defaults, for tests and benches alike. It sits in dev/support (the
 * kit tests and dev tools share) because benches build the same stages as the tests, and dev/ may not import
 * test/; nothing here is shipped (the image copies shared/ and workers/ only).
 */
import type { KafkaSinkStageConfig } from "../../shared/stages/kafka-sink/config.ts";
import { KAFKA_SINK_DEFAULTS } from "../../shared/stages/kafka-sink/spec.ts";
import { DEFAULT_COLUMNS } from "../../shared/stages/persist/config.ts";
import type { DedupeStageConfig, EnrichStageConfig, LimitStageConfig, PersistStageConfig, TenantLimit } from "../../shared/topology/types.ts";
import { PG_URL, REDIS_URL, uniqueName } from "./services.ts";

/** An enrich config with test defaults (one thread, no module, no lookups). */
export function enrichConfig(overrides: Partial<EnrichStageConfig> = {}): EnrichStageConfig {
  return {
    kind: "enrich",
    name: "enrich",
    threads: 1,
    ingestTimestamp: true,
    tenantFromSource: false,
    maxEventBytes: 64 * 1024,
    maxAttributes: 256,
    sliceTimeoutMs: 30_000,
    lookups: [],
    module: null,
    ...overrides,
  };
}

/** A dedupe config on the memory backend (Redis at REDIS_URL when a test switches backend) with a unique key prefix. */
export function dedupeConfig(overrides: Partial<DedupeStageConfig> = {}): DedupeStageConfig {
  return {
    kind: "dedupe",
    name: "dedupe",
    backend: "memory",
    redisUrl: REDIS_URL,
    prefix: uniqueName("tf:dd"),
    keyFields: ["source", "id"],
    expectedPerWindow: 100_000,
    falsePositiveRate: 0.001,
    windowMs: 3_600_000,
    perTenant: false,
    tenantFilters: 16,
    bloom: { expansion: 2, nonScaling: false, maxFilters: 4 },
    onMaybeSeen: "verify",
    onRedisDown: "fail",
    redisMode: "bitmap",
    ...overrides,
  };
}

/** A tenant limit of `events` per second with the given burst and quota. */
export const perSecond = (events: number, burst = events, quota: number | null = null, quotaWindowMs = 86_400_000): TenantLimit => ({
  events,
  perMs: 1_000,
  burst,
  quota,
  quotaWindowMs,
});

/** A limit config on the test Redis with a unique key prefix. */
export function limitConfig(overrides: Partial<LimitStageConfig> = {}): LimitStageConfig {
  return {
    kind: "limit",
    name: "limit",
    redisUrl: REDIS_URL,
    prefix: uniqueName("tf:limit-test"),
    defaultLimit: perSecond(10),
    tenants: {},
    tenantsFile: null,
    tenantsQuery: null,
    onLimit: "dead-letter",
    maxDelayMs: 1_000,
    maxHeldEvents: 100_000,
    maxHeldBatches: 64,
    onRedisDown: "fail",
    metricsTopTenants: 2,
    ...overrides,
  };
}

/**
 * A persist config on the test PostgreSQL with the default column mapping, into a fresh table of `public`
 * unless overridden; the stage is named after its table, so its connections (application_name) are its own.
 */
export function persistConfig(overrides: Partial<PersistStageConfig> = {}): PersistStageConfig {
  const table = overrides.table ?? uniqueName("ev");
  return {
    kind: "persist",
    name: table,
    url: PG_URL,
    schema: "public",
    table,
    connections: 2,
    manageSchema: true,
    partitionsAheadDays: 2,
    retentionDays: 90,
    maintenanceIntervalMs: 3_600_000,
    ginIndexOnData: false,
    columns: [...DEFAULT_COLUMNS],
    method: "copy",
    ...overrides,
  };
}

/** A Kafka sink config producing structured events keyed by id to `topic` on `brokers`, with a 10 s delivery timeout. */
export function kafkaSinkConfig(brokers: string, topic: string, overrides: Partial<KafkaSinkStageConfig> = {}): KafkaSinkStageConfig {
  return {
    kind: "kafkaSink",
    name: "kafkaSink",
    brokers,
    topic,
    key: KAFKA_SINK_DEFAULTS.key,
    mode: KAFKA_SINK_DEFAULTS.mode,
    maxRecordBytes: KAFKA_SINK_DEFAULTS.maxRecordBytes,
    deliveryTimeoutMs: 10_000,
    properties: {},
    ...overrides,
  };
}
