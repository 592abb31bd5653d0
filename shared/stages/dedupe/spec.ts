/** The dedupe stage's spec: schema, defaults, resolver, rules, explain and capacity lines (see ../spec.ts). */
import { attributeField, DEFAULT_REDIS_URL, redisUrlField, stageName } from "../../config/common.ts";
import { arr, bool, duration, type Infer, int, num, obj, opt, str } from "../../config/dsl.ts";
import { formatCount, formatDuration } from "../../config/units.ts";
import type { DedupeErrorCode } from "../../errors/index.ts";
import { defineStage, type ErrorCodeInfo } from "../spec.ts";
import type { DedupeStageConfig } from "./config.ts";
import { filterCapacity, filterMemoryBytes } from "./sizing.ts";
import { dedupeEnrichNeeds } from "./needs.ts";

/** Static defaults of the dedupe stage (ms). */
export const DEDUPE_DEFAULTS = {
  backend: "redis" as const,
  redisUrl: DEFAULT_REDIS_URL,
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
};

/** NOTES: BITFIELD SET u1 x10, 1000 keys per call, 4 in flight: what one Redis client sustains. */
const KEYS_PER_REDIS_CLIENT = 177_000;

const D = DEDUPE_DEFAULTS;

const schema = obj({
  description: "Drops duplicate events with a windowed Bloom filter; \"maybe seen\" answers are verified in PostgreSQL.",
  default: {},
  fields: {
    name: stageName("dedupe"),
    backend: str({
      description: "`redis` (shared by all replicas) or `memory` (one process only: demo, tests).",
      enum: ["redis", "memory"],
      default: D.backend,
    }),
    redis: obj({
      description: "Redis connection for the `redis` backend.",
      default: {},
      fields: {
        url: redisUrlField(D.redisUrl),
        mode: str({
          description: "`auto` uses BF.* when the server has it, else the portable BITFIELD filter; `bloom`/`bitmap` force one.",
          enum: ["auto", "bloom", "bitmap"],
          default: D.redisMode,
        }),
        bloom: obj({
          description: "Growth policy of BF.* filters past `expectedPerWindow` (RedisBloom scales by adding sub-filters).",
          default: {},
          fields: {
            expansion: int({
              description: "BF.INSERT EXPANSION: each new sub-filter is this many times larger than the last.",
              min: 1,
              max: 32,
              default: D.bloom.expansion,
            }),
            nonScaling: bool({
              description: "BF.INSERT NONSCALING: never add sub-filters; keys past capacity are not added (see `maxFilters` for how they are answered).",
              default: D.bloom.nonScaling,
            }),
            maxFilters: int({
              description: "At most this many sub-filters per filter; past them keys are not added (memory stays bounded) and answer \"maybe seen\" (verified in PostgreSQL) with `onMaybeSeen: verify`, \"new\" with `drop`.",
              min: 1,
              max: 16,
              default: D.bloom.maxFilters,
            }),
          },
        }),
      },
    }),
    prefix: opt(str({ description: "Key prefix of the filters in Redis.", minLength: 1, dynamicDefault: "`tf:<name>`" })),
    key: arr({
      description: "CloudEvents attributes forming an event's identity.",
      minItems: 1,
      uniqueItems: true,
      default: D.keyFields,
      items: attributeField("A CloudEvents attribute name."),
    }),
    expectedPerWindow: int({
      description: "Expected distinct events per window; sizes the filter.",
      min: 1,
      default: D.expectedPerWindow,
    }),
    falsePositiveRate: num({
      description: "Wanted false-positive rate of the filter, in (0, 1).",
      exclusiveMin: 0,
      exclusiveMax: 1,
      default: D.falsePositiveRate,
    }),
    window: duration({
      description: "Filter rotation period; the current and the previous window are checked.",
      exclusiveMin: 0,
      default: D.windowMs,
    }),
    perTenant: bool({
      description: "Filters per tenant (hash-tagged keys for Redis Cluster): tenants are spread over `tenantFilters` filters that share `expectedPerWindow`.",
      default: D.perTenant,
    }),
    tenantFilters: int({
      description: "With `perTenant`: the number of filters tenants are hashed onto (tenant ids are untrusted input: memory must not grow with them).",
      min: 1,
      max: 1024,
      default: D.tenantFilters,
    }),
    onMaybeSeen: str({
      description: "`verify` checks \"maybe seen\" events in PostgreSQL (exact); `drop` trusts the filter and loses real events at the false-positive rate.",
      enum: ["verify", "drop"],
      default: D.onMaybeSeen,
    }),
    onRedisDown: str({
      description: "`fail` pauses and retries; `passthrough` lets events through (PostgreSQL's unique key keeps the result exact).",
      enum: ["fail", "passthrough"],
      default: D.onRedisDown,
    }),
  },
});

type Value = Infer<typeof schema>;

/** Bytes as MiB with one decimal, for memory estimates. */
const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** Whole-batch errors (DedupeError). */
const ERRORS: Record<DedupeErrorCode, ErrorCodeInfo> = {
  DEDUPE_REDIS_UNAVAILABLE: { retriable: true, description: "Redis refused, reset or timed out." },
  DEDUPE_REDIS_AUTH: { retriable: false, description: "Wrong password or untrusted TLS certificate: fix the URL or the trust store." },
  DEDUPE_REDIS_COMMAND: { retriable: "depends", description: "Redis answered a command with an error or an unexpected reply; retriable when the connection's error is." },
  DEDUPE_VERIFY_FAILED: { retriable: "depends", description: "Verifying maybe-seen events in the store failed; as retriable as the store's error." },
  DEDUPE_CONFIG: { retriable: false, description: "The stage cannot run as configured (e.g. BF.* forced but the server lacks RedisBloom)." },
};

/** The dedupe stage. */
export const dedupeSpec = defineStage<"dedupe", Value, DedupeStageConfig>({
  kind: "dedupe",
  schema,
  example: {},
  resolve(v, ctx) {
    return {
      kind: "dedupe",
      name: v.name,
      backend: v.backend,
      redisUrl: v.redis.url,
      prefix: v.prefix ?? `tf:${ctx.topologyName}`,
      keyFields: v.key,
      expectedPerWindow: v.expectedPerWindow,
      falsePositiveRate: v.falsePositiveRate,
      windowMs: v.window,
      perTenant: v.perTenant,
      tenantFilters: v.tenantFilters,
      bloom: { ...v.redis.bloom },
      onMaybeSeen: v.onMaybeSeen,
      onRedisDown: v.onRedisDown,
      redisMode: v.redis.mode,
    };
  },
  rules: {
    atMostOne: true,
    order: [
      { kind: "enrich", position: "before", required: true, message: "dedupe needs the keys the enrich stage computes: put an `enrich` stage before it" },
      {
        kind: "persist",
        position: "after",
        required: true,
        when: (v) => (v?.onMaybeSeen ?? "verify") === "verify",
        key: "onMaybeSeen",
        message:
          "`onMaybeSeen: verify` (the default) checks maybe-seen events in PostgreSQL: add a `persist` stage after dedupe, or set `onMaybeSeen: drop`",
      },
    ],
    // Not an error: it runs correctly, but rarely as the user intended.
    check(self, pipeline, diag) {
      if (self.value?.backend === "memory" && pipeline.maxReplicas > 1) {
        const path = `${self.path}.backend`;
        diag.warn(diag.at(path), path, "the memory filter is per process: with several replicas only PostgreSQL's unique key catches cross-replica duplicates; use `backend: redis`");
      }
    },
  },
  explain(s) {
    const filters = s.perTenant ? `tenants hashed onto ${s.tenantFilters} filters (+1 without a tenant), each for ${filterCapacity(s)} keys` : "one shared filter";
    const bf = s.backend === "redis" && s.redisMode !== "bitmap";
    return [
      `Dedupe: ${s.backend}${s.backend === "redis" ? ` (${s.redisMode})` : ""}, ${s.expectedPerWindow} keys per ${formatDuration(s.windowMs)} window at ` +
        `${s.falsePositiveRate} false positives, maybe-seen -> ${s.onMaybeSeen}, Redis down -> ${s.onRedisDown}.`,
      `Dedupe filters: ${filters}; at most ~${mib(filterMemoryBytes(s, false))} for two windows` +
        (bf ? ` (~${mib(filterMemoryBytes(s, true))} with BF.* growing to ${s.bloom.nonScaling ? "1 sub-filter (non-scaling)" : `${s.bloom.maxFilters} sub-filters`}).` : "."),
    ];
  },
  capacity(s, fleet) {
    if (s.backend !== "redis") return undefined;
    const processes = Math.min(fleet.activeReplicas, fleet.cores);
    const capped = fleet.activeReplicas > processes ? ` (capped at ${fleet.cores} core(s))` : "";
    return {
      stage: s.name,
      eventsPerSec: KEYS_PER_REDIS_CLIENT * processes,
      basis: `~${formatCount(KEYS_PER_REDIS_CLIENT)} keys/s per Redis client (BITFIELD, client-bound) x ${processes}${capped}; BF.* (Redis 8) not measured here`,
    };
  },
  async create(cfg) {
    return (await import("./index.ts")).createDedupeStage(cfg);
  },
  errors: ERRORS,
  enrichNeeds: dedupeEnrichNeeds,
  rejections: {},
});
