/**
 * Time windows and filter key names. A key belongs to window floor(now / windowMs); the stage checks the
 * current and the previous window and sets bits only in the current one, so a filter is written during its
 * own window, read during the next, and useless after that.
 */

import { tenantBucket } from "./sizing.ts";

/** Window id of a wall-clock time (epoch ms). */
export function windowOf(nowMs: number, windowMs: number): number {
  return Math.floor(nowMs / windowMs);
}

/** Scope of the one shared filter when filters are not per tenant. */
export const SHARED_SCOPE = "bloom";
/** Scope for events without a tenant when filters are per tenant. */
export const NO_TENANT_SCOPE = "-";

/**
 * The filter scope of an event: the shared scope, or with per-tenant filters (`tenantFilters` given) `t<n>`,
 * the tenant filter its tenant hashes onto (sizing.ts says why tenants do not get one filter each). The scope
 * is the Redis Cluster hash tag, and never holds text from the event.
 */
export function scopeOf(tenant: string | null | undefined, tenantFilters: number | null): string {
  if (tenantFilters === null) return SHARED_SCOPE;
  if (tenant == null || tenant === "") return NO_TENANT_SCOPE;
  return `t${tenantBucket(tenant, tenantFilters)}`;
}

/**
 * Redis key of one filter: `<prefix>:{<scope>}:<window>:<shard>`. The braces make `<scope>` the Redis Cluster
 * hash tag, so all windows and shards of one tenant live in one slot. `shard` is "bf" for RedisBloom filters,
 * so switching a deployment between the bitmap and BF.* paths never hits a key of the other type.
 */
export function filterKey(prefix: string, scope: string, window: number, shard: number | "bf"): string {
  return `${prefix}:{${scope}}:${window}:${shard}`;
}

/**
 * Time-to-live for a key of `window`, relative to `nowMs`: it must outlive the next window (where it is the
 * "previous" one) plus a margin for clock skew between workers. Relative (PEXPIRE), not absolute, so that a
 * stage running on an injected clock still gets sane TTLs.
 */
export function windowTtlMs(window: number, windowMs: number, nowMs: number, marginMs: number): number {
  return Math.max(1, Math.ceil((window + 2) * windowMs + marginMs - nowMs));
}

/** Default TTL margin: a tenth of a window, at least one minute (clock skew, in-flight batches at rollover). */
export function defaultTtlMarginMs(windowMs: number): number {
  return Math.max(60_000, Math.round(windowMs / 10));
}
