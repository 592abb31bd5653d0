/**
 * Schema preparation shared by the stage's start and the CLI's `--migrate`: the managed table, its
 * indexes and day partitions (idempotent, under the DDL advisory lock), or for a user-owned table only
 * the check that the mapped columns exist.
 */
import type { Logger } from "pino";
import type { Sql } from "postgres";
import { PersistError, TopofleetError } from "../../errors/index.ts";
import type { PersistStageConfig } from "./config.ts";
import { resolveColumns, type ResolvedColumns } from "./columns.ts";
import { openPool, resolveDatabase } from "./connect.ts";
import { PartitionKeeper, type MaintenanceResult } from "./partitions.ts";
import { closePool } from "./pg-driver.ts";
import { createManagedTable, describeTable, type TableInfo } from "./schema.ts";
import { target as makeTarget, type Target } from "./sql-text.ts";
import { toPersistError } from "./sqlstate.ts";

/** The table as the stage will use it. */
export interface PreparedTable {
  info: TableInfo;
  /** Present when the stage manages the schema. */
  partitions: PartitionKeeper | null;
  maintenance: MaintenanceResult | null;
}

/** Creates (when managed) and describes the table; runs the first partition maintenance pass. */
export async function prepareTable(sql: Sql, cfg: PersistStageConfig, target: Target, cols: ResolvedColumns, now = Date.now()): Promise<PreparedTable> {
  if (!cfg.manageSchema) return { info: await describeTable(sql, target, cols), partitions: null, maintenance: null };
  await createManagedTable(sql, target, cols, cfg.ginIndexOnData);
  const info = await describeTable(sql, target, cols);
  if (!info.partitioned) {
    throw new PersistError("PERSIST_SCHEMA", `table ${target.sql} exists but is not partitioned; set manageSchema: false to write to it as is`, {
      retriable: false,
      context: { schema: target.schema, table: target.table },
    });
  }
  const partitions = new PartitionKeeper(sql, target);
  const maintenance = await partitions.maintain(now, cfg.partitionsAheadDays, cfg.retentionDays);
  return { info, partitions, maintenance };
}

/** `bun run topology <file> --migrate`: prepares the table and exits. `dataDir` is needed for url "embedded". */
export async function migrate(cfg: PersistStageConfig, logger: Logger, opts: { dataDir?: string } = {}): Promise<void> {
  const target = makeTarget(cfg.schema, cfg.table);
  const cols = resolveColumns(cfg.columns);
  const db = await resolveDatabase(cfg.url, opts.dataDir, logger);
  const sql = openPool(db.url, 1, cfg.name, logger);
  try {
    const prepared = await prepareTable(sql, cfg, target, cols);
    logger.info(
      { stage: cfg.name, table: target.sql, managed: cfg.manageSchema, created: prepared.maintenance?.created ?? [], dropped: prepared.maintenance?.dropped ?? [] },
      cfg.manageSchema ? "persist schema migrated" : "persist table checked (manageSchema is false: no DDL run)",
    );
  } catch (err) {
    throw err instanceof TopofleetError ? err : toPersistError(err, "migrate");
  } finally {
    await closePool(sql);
    await db.embedded?.stop();
  }
}
