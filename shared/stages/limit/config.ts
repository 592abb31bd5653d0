/** The resolved config of the limit stage (see ./spec.ts for its schema and resolver). */
import type { StageConfigBase } from "../stage-config.ts";

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
export interface LimitStageConfig extends StageConfigBase {
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

