/** The limit stage's spec: schema, defaults, resolver, rules and explain lines (see ../spec.ts). */
import { DEFAULT_REDIS_URL, DEFAULT_RELOAD_MS, postgresUrlField, redisUrlField, stageName } from "../../config/common.ts";
import { duration, type Infer, int, map, obj, opt, str } from "../../config/dsl.ts";
import { formatDuration } from "../../config/units.ts";
import type { LimitErrorCode } from "../../errors/index.ts";
import { defineStage, type ErrorCodeInfo } from "../spec.ts";
import type { LimitStageConfig, TenantLimit } from "./config.ts";

/** Static defaults of the limit stage (ms). */
export const LIMIT_DEFAULTS = {
  redisUrl: DEFAULT_REDIS_URL,
  rate: 1000,
  per: 1_000,
  quotaWindowMs: 86_400_000,
  onLimit: "delay" as const,
  maxDelayMs: 10_000,
  maxHeldEvents: 100_000,
  maxHeldBatches: 64,
  onRedisDown: "fail" as const,
  metricsTopTenants: 20,
  tenantsQueryRefreshMs: DEFAULT_RELOAD_MS,
};

const D = LIMIT_DEFAULTS;

/** One tenant's limit: `rate` events per `per`, a `burst`, an optional `quota` per `quotaWindow`. */
const tenantLimit = (description: string, withDefaults: boolean) =>
  obj({
    description,
    ...(withDefaults ? { default: {} } : {}),
    fields: {
      rate: int({ description: "Events admitted per `per` on average (GCRA, shared by every worker of the fleet).", min: 1, ...(withDefaults ? { default: D.rate } : {}) }),
      per: duration({ description: "Period of `rate`.", exclusiveMin: 0, default: D.per }),
      burst: opt(int({ description: "Events a tenant may send at once above its average rate.", min: 1, dynamicDefault: "`rate`" })),
      quota: opt(int({ description: "At most this many events per `quotaWindow` (windows aligned to the epoch: UTC days by default).", min: 1 })),
      quotaWindow: duration({ description: "Window of `quota`.", exclusiveMin: 0, default: D.quotaWindowMs }),
    },
  });

const schema = obj({
  description:
    "Per-tenant rate limits and quotas, enforced across the fleet in Redis with one script call per batch. Needs an `enrich` stage before it (the tenant comes from `tenantid`).",
  default: {},
  fields: {
    name: stageName("limit"),
    redis: obj({
      description: "Redis connection holding the per-tenant state.",
      default: {},
      fields: {
        url: redisUrlField(D.redisUrl),
      },
    }),
    prefix: opt(str({ description: "Key prefix of the per-tenant state in Redis.", minLength: 1, dynamicDefault: "`tf:<name>:limit`" })),
    default: tenantLimit("The limit of every tenant without an override; events without a tenant share the limit of tenant `-`.", true),
    tenants: map({
      description: "Per-tenant overrides: tenant id -> limit.",
      default: {},
      values: tenantLimit("One tenant's limit.", false),
    }),
    tenantsQuery: opt(
      obj({
        description: "Overrides from PostgreSQL: a query returning (tenant id, events per `default.per`), reloaded every `refresh` (a failed reload keeps the last table).",
        fields: {
          url: postgresUrlField("LIMITS_DATABASE_URL"),
          query: str({ description: "SQL returning two columns: the tenant id and its rate.", minLength: 1 }),
          refresh: duration({ description: "Reload period.", exclusiveMin: 0, default: D.tenantsQueryRefreshMs }),
        },
      }),
    ),
    tenantsFile: opt(str({ description: "JSON file of overrides, tenant id -> events per `default.per` (read at start; path relative to the topology file).", minLength: 1 })),
    onLimit: str({
      description:
        "`delay` holds a tenant's events over its rate until their turn (the others keep moving; offsets commit in order), `dead-letter` rejects them (TENANT_RATE_LIMITED / TENANT_QUOTA_EXCEEDED), `pass` lets them through and counts them.",
      enum: ["delay", "dead-letter", "pass"],
      default: D.onLimit,
    }),
    maxDelay: duration({
      description: "`delay`: an event that would wait longer is dead-lettered (TENANT_DELAY_TOO_LONG); over-quota events are always dead-lettered under `delay`.",
      exclusiveMin: 0,
      default: D.maxDelayMs,
    }),
    maxHeldEvents: int({ description: "`delay`: past this many held events a worker stops consuming until some are released.", min: 1, default: D.maxHeldEvents }),
    maxHeldBatches: int({ description: "`delay`: past this many batches waiting for held events a worker stops consuming.", min: 1, max: 4096, default: D.maxHeldBatches }),
    onRedisDown: str({
      description: "`fail` pauses and retries; `passthrough` admits every event unlimited while Redis is unreachable (counted).",
      enum: ["fail", "passthrough"],
      default: D.onRedisDown,
    }),
    metricsTopTenants: int({ description: "Tenants named in the metrics (the busiest seen); the others are counted as `other`.", min: 0, max: 1000, default: D.metricsTopTenants }),
  },
});

type Value = Infer<typeof schema>;

const limitOf = (l: Value["default"]): TenantLimit => ({
  events: l.rate,
  perMs: l.per,
  burst: l.burst ?? l.rate,
  quota: l.quota ?? null,
  quotaWindowMs: l.quotaWindow,
});

/** Whole-batch errors (LimitError). */
const ERRORS: Record<LimitErrorCode, ErrorCodeInfo> = {
  LIMIT_REDIS_UNAVAILABLE: { retriable: true, description: "Redis refused, reset or timed out." },
  LIMIT_REDIS_AUTH: { retriable: false, description: "Wrong password or untrusted TLS certificate." },
  LIMIT_REDIS_COMMAND: { retriable: "depends", description: "The limit script failed; retriable when the connection's error is." },
  LIMIT_CONFIG: { retriable: "depends", description: "The stage cannot run as configured (bad tenants file, misplaced stage); a tenantsQuery whose first load failed is retried." },
};

/** The limit stage. */
export const limitSpec = defineStage<"limit", Value, LimitStageConfig>({
  kind: "limit",
  schema,
  example: {},
  resolve(v, ctx) {
    return {
      kind: "limit",
      name: v.name,
      redisUrl: v.redis.url,
      prefix: v.prefix ?? `tf:${ctx.topologyName}:limit`,
      defaultLimit: limitOf(v.default),
      tenants: Object.fromEntries(Object.entries(v.tenants).map(([tenant, l]) => [tenant, limitOf(l)])),
      tenantsFile: v.tenantsFile === undefined ? null : ctx.ref(`${ctx.path}.tenantsFile`, v.tenantsFile),
      tenantsQuery: v.tenantsQuery === undefined ? null : { url: v.tenantsQuery.url, query: v.tenantsQuery.query, refreshMs: v.tenantsQuery.refresh },
      onLimit: v.onLimit,
      maxDelayMs: v.maxDelay,
      maxHeldEvents: v.maxHeldEvents,
      maxHeldBatches: v.maxHeldBatches,
      onRedisDown: v.onRedisDown,
      metricsTopTenants: v.metricsTopTenants,
    };
  },
  rules: {
    atMostOne: true,
    order: [
      { kind: "enrich", position: "before", required: true, message: "limit reads the tenant the enrich stage extracts: put an `enrich` stage before it" },
      { kind: "persist", position: "after", required: false, message: "limit must come before persist: events are stored by persist, so a limit after it limits nothing" },
    ],
  },
  explain(s) {
    const d = s.defaultLimit;
    const quota = d.quota === null ? "no quota" : `quota ${d.quota} per ${formatDuration(d.quotaWindowMs)}`;
    const overrides = Object.keys(s.tenants).length;
    const policy =
      s.onLimit === "delay"
        ? `delay (held up to ${formatDuration(s.maxDelayMs)}, then TENANT_DELAY_TOO_LONG; over quota -> TENANT_QUOTA_EXCEEDED; a worker stops consuming past ${s.maxHeldEvents} held events or ${s.maxHeldBatches} waiting batches)`
        : s.onLimit === "dead-letter"
          ? "dead-letter (TENANT_RATE_LIMITED / TENANT_QUOTA_EXCEEDED)"
          : "pass (counted in topofleet_limit_events_total{outcome=passed_over})";
    return [
      `Limit: ${d.events} events per ${formatDuration(d.perMs)} per tenant (burst ${d.burst}), ${quota}; ${overrides} override(s) in the file` +
        `${s.tenantsFile ? ` + ${s.tenantsFile}` : ""}${s.tenantsQuery ? ` + a PostgreSQL query reloaded every ${formatDuration(s.tenantsQuery.refreshMs)}` : ""}; over limit -> ${policy}; Redis down -> ${s.onRedisDown}.`,
      `Limit cost: 1 Redis call (EVALSHA of one script) per batch, whatever its size, plus 2 keys per tenant touched (rate state, quota counter); metrics name the top ${s.metricsTopTenants} tenants, the rest are "other".`,
    ];
  },
  async create(cfg) {
    return (await import("./index.ts")).createLimitStage(cfg);
  },
  errors: ERRORS,
  rejections: {
    TENANT_RATE_LIMITED: "Over its tenant's rate (`onLimit: dead-letter`).",
    TENANT_QUOTA_EXCEEDED: "Over its tenant's quota.",
    TENANT_DELAY_TOO_LONG: "`onLimit: delay`: it would have waited longer than `maxDelay`.",
  },
  referencedFiles: (cfg) => (cfg.tenantsFile ? [cfg.tenantsFile] : []),
});
