/**
 * How big each filter is and how many there can be. Tenant ids are untrusted input: with one filter per
 * distinct tenant, 20 tenants cost 20 full-size filters per window (~18 MB each at the defaults), and a
 * producer inventing tenant ids could exhaust Redis. So `perTenant` hashes tenants onto a fixed number of
 * filters (`tenantFilters`, default 16) that share `expectedPerWindow`: each is sized for twice its even
 * share (headroom for skew), so the per-tenant filters together take about twice one shared filter, whatever
 * the number of tenants. Events without a tenant get one more filter.
 */
import type { DedupeStageConfig } from "./config.ts";
import { bloomLayout, murmur32 } from "./bloom-math.ts";

/** Headroom of a tenant filter over its even share of `expectedPerWindow`, for skewed tenants. */
export const TENANT_FILTER_HEADROOM = 2;

/** Keys one filter is sized for: `expectedPerWindow`, or a tenant filter's share of it (with headroom). */
export function filterCapacity(cfg: Pick<DedupeStageConfig, "expectedPerWindow" | "perTenant" | "tenantFilters">): number {
  if (!cfg.perTenant) return cfg.expectedPerWindow;
  return Math.max(1, Math.ceil((cfg.expectedPerWindow * TENANT_FILTER_HEADROOM) / cfg.tenantFilters));
}

/**
 * Bytes Redis (or the process) holds for the filters of this stage at most: two windows of
 * maxFiltersPerWindow filters of filterCapacity keys; `bfGrowth` multiplies by the sub-filters a BF.*
 * filter may add (each `expansion` times larger, at most `maxFilters`; ~the same bits per key).
 */
export function filterMemoryBytes(
  cfg: Pick<DedupeStageConfig, "expectedPerWindow" | "falsePositiveRate" | "perTenant" | "tenantFilters" | "bloom">,
  bfGrowth: boolean,
): number {
  const layout = bloomLayout(filterCapacity(cfg), cfg.falsePositiveRate);
  const one = (layout.bitsPerShard * layout.shards) / 8;
  let growth = 1;
  if (bfGrowth && !cfg.bloom.nonScaling) {
    growth = 0;
    for (let i = 0; i < cfg.bloom.maxFilters; i++) growth += cfg.bloom.expansion ** i;
  }
  return 2 * maxFiltersPerWindow(cfg) * one * growth;
}

/** The most filters one window can have: 1 shared, or `tenantFilters` plus the one for events without a tenant. */
export function maxFiltersPerWindow(cfg: Pick<DedupeStageConfig, "perTenant" | "tenantFilters">): number {
  return cfg.perTenant ? cfg.tenantFilters + 1 : 1;
}

// Any fixed seed: the bucket of a tenant must be the same in every worker and across restarts.
const TENANT_SEED = 0x5eed7e;

/** The tenant filter (0 … tenantFilters-1) a tenant id is hashed onto. */
export function tenantBucket(tenant: string, tenantFilters: number): number {
  return murmur32(tenant, TENANT_SEED) % tenantFilters;
}
