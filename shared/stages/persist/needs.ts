/** What the persist stage needs from enrich: each event's COPY line for its column mapping, built in the threads. */
import { DEFAULT_COLUMNS, type PersistStageConfig } from "./config.ts";
import type { EnrichNeeds } from "../needs.ts";

/**
 * COPY rows in mapping order (the default mapping when none is given), and, for a managed partitioned table,
 * the window of days that have partitions (events outside it are dead-lettered in enrich).
 */
export function persistEnrichNeeds(cfg: PersistStageConfig): EnrichNeeds {
  const mapping = cfg.columns.length ? cfg.columns : DEFAULT_COLUMNS;
  return {
    copyRows: {
      columns: mapping.map((c) => c.from),
      partitionWindow: cfg.manageSchema ? { retentionDays: cfg.retentionDays, aheadDays: cfg.partitionsAheadDays + 1 } : null,
    },
  };
}
