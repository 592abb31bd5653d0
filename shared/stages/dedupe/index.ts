/**
 * The dedupe stage: a windowed Bloom filter (in Redis, or in process) in front of PostgreSQL's unique key.
 * See stage.ts for the algorithm and why it never drops a real event with `onMaybeSeen: "verify"` (the
 * default), and what `onMaybeSeen: "drop"` gives up (real events lost at the false-positive rate).
 */
import type { Stage } from "../stage.ts";
import type { DedupeStageConfig } from "../../topology/types.ts";
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
