/** The resolved config of the persist stage (see ./spec.ts for its schema and resolver). */
import type { StageConfigBase } from "../stage-config.ts";

/** What a column can be written from: a CloudEvents attribute, the ingest time or the Kafka position, in default COPY order. */
export const COLUMN_SOURCES = ["id", "source", "type", "subject", "time", "tenant", "data", "extensions", "ingested_at", "kafka_partition", "kafka_offset"] as const;

/** Mapping from CloudEvents attributes to table columns, for users with their own schema. */
export interface ColumnMapping {
  column: string;
  from: (typeof COLUMN_SOURCES)[number];
}

/** The column mapping used when `persist.columns` is absent: each attribute into a column of the same name. */
export const DEFAULT_COLUMNS: readonly ColumnMapping[] = COLUMN_SOURCES.map((from) => ({ column: from, from }));

/** The `url` that asks for PGlite under the data dir, hosted by the local supervisor (demo, tests). */
export const EMBEDDED_URL = "embedded";

export interface PersistStageConfig extends StageConfigBase {
  kind: "persist";
  name: string;
  /** PostgreSQL URL, or EMBEDDED_URL for PGlite under the data dir (demo). May carry secrets; never logged. */
  url: string;
  schema: string;
  table: string;
  connections: number;
  manageSchema: boolean; // false: the user owns the table; we only insert
  partitionsAheadDays: number;
  retentionDays: number;
  maintenanceIntervalMs: number;
  ginIndexOnData: boolean;
  columns: ColumnMapping[]; // default mapping when the user gives none
  method: "copy" | "unnest";
  /**
   * How an event counts whose row is already stored from the very same Kafka record. "persisted" (the
   * default): it is this group's own re-delivery after a crash, whose first outcome was never committed.
   * "duplicate": a replay into a new group (shared/replay), where the original run already counted it.
   * Not a topology key: set by the code that runs the stage.
   */
  redelivery?: "persisted" | "duplicate";
}

