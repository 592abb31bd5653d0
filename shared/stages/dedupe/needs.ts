/** What the dedupe stage needs from enrich: its identity's Bloom probes, hashed in the threads. */
import type { DedupeStageConfig } from "./config.ts";
import type { EnrichNeeds } from "../needs.ts";
import { bloomLayout } from "./bloom-math.ts";
import { filterCapacity } from "./sizing.ts";

/** Probes of `keyFields` (default source, id) for the filter layout this config sizes. */
export function dedupeEnrichNeeds(cfg: DedupeStageConfig): EnrichNeeds {
  return {
    probes: {
      keyFields: cfg.keyFields.length ? [...cfg.keyFields] : ["source", "id"],
      layout: bloomLayout(filterCapacity(cfg), cfg.falsePositiveRate),
    },
  };
}
