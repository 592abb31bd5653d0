/**
 * The enrich stage: CloudEvents 1.0 validation and enrichment in a piscina thread pool.
 * See stage.ts (main thread), thread.ts (per-event work), module-api.ts (the user enrich module contract).
 */
import type { EnrichStageConfig } from "./config.ts";
import { EnrichStage } from "./stage.ts";

export { EnrichStage } from "./stage.ts";
export { EnrichRejectCode } from "./codes.ts";
export type { CloudEvent, EnrichBatchFunction, EnrichEventFunction, EnrichModuleContext, EnrichResult, EventRecordMeta, LookupValue } from "./module-api.ts";

/** Creates the enrich stage for one enrich config (validated here; started by the engine with the whole topology). */
export function createEnrichStage(cfg: EnrichStageConfig): EnrichStage {
  return new EnrichStage(cfg);
}
