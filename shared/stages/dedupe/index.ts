/**
 * The dedupe stage: a windowed Bloom filter (in Redis, or in process) in front of PostgreSQL's unique key.
 * See stage.ts for the algorithm and why it never drops a real event with `onMaybeSeen: "verify"` (the
 * default), and what `onMaybeSeen: "drop"` gives up (real events lost at the false-positive rate).
 *
 * Sizing: one filter holds `expectedPerWindow` keys at `falsePositiveRate` (bloom-math `bloomLayout`), about
 * 1.8 MB per million keys at 0.1% with k = 10 probes. Two windows are alive at a time. With `perTenant`,
 * tenants are hashed onto `tenantFilters` filters sharing `expectedPerWindow` (sizing.ts), so memory is
 * about twice the shared filter's whatever the number of tenant ids; BF.* filters stop growing at
 * `redis.bloom.maxFilters` sub-filters (bloom-backend.ts). Each
 * worker also keeps a copy of the previous window's bitmaps, up to `previousWindowMaxBytes` (256 MiB by
 * default); filters beyond that budget are checked remotely, at ~half the throughput.
 * Redis keys: `<prefix>:{t<n>|-|bloom}:<window>:<shard>` (`:bf` instead of the shard for RedisBloom), with a
 * TTL that ends a margin after the next window.
 */
import type { Stage } from "../stage.ts";
import type { DedupeStageConfig } from "./config.ts";
import type { DedupeStageOptions } from "./options.ts";
import { DedupeStage } from "./stage.ts";

export { DedupeStage } from "./stage.ts";
export type { DedupeStageOptions } from "./options.ts";
export type { BloomBackend, FilterRequest, FilterStats } from "./backend.ts";
export { filterKey, scopeOf, windowOf, windowTtlMs } from "./windows.ts";

/** Builds the dedupe stage for a resolved config; `options` are tuning knobs and a clock for tests. */
export function createDedupeStage(cfg: DedupeStageConfig, options: DedupeStageOptions = {}): Stage {
  return new DedupeStage(cfg, options);
}
