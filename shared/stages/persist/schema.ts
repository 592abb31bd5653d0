/**
 * The managed table's DDL (idempotent, safe to run from many workers at once) and the check that a
 * table, managed or user-owned, has the mapped columns; it also reads each column's type for the casts
 * the unnest and identity queries need.
 */
import type { Sql } from "postgres";
import { PersistError } from "../../errors/index.ts";
import { MANAGED_COLUMN_SQL, type ResolvedColumns } from "./columns.ts";
import { lockSchemaDdl } from "./ddl-lock.ts";
import { inTransaction } from "./pg-driver.ts";
import { derivedName, quoteIdent, type Target } from "./sql-text.ts";

/** Creates schema, partitioned table and indexes when missing. Partitions are the PartitionKeeper's job. */
export async function createManagedTable(sql: Sql, target: Target, cols: ResolvedColumns, ginIndexOnData: boolean): Promise<void> {
  const q = quoteIdent;
  const defs = cols.mapping.map((c) => `${q(c.column)} ${MANAGED_COLUMN_SQL[c.from]}`);
  // Time leads the key: event times arrive nearly in order, so inserts land on the index's right edge and the
  // pages they touch stay cached. Led by (source, id), random ids spread inserts over the whole index, and once
  // it outgrows shared_buffers each row dirties an uncached page: insert cost grew 2.2x over 7.5M rows where
  // the time-led key stayed flat and 1.6-3.9x cheaper (dev/bench/PROFILE.md, "Fourth pass"). Lookups are
  // equality on all three columns, which either order serves.
  defs.push(`PRIMARY KEY (${q(cols.time)}, ${q(cols.source)}, ${q(cols.id)})`);
  await inTransaction(sql, async (tx) => {
    await lockSchemaDdl(tx, target.schema);
    await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS ${q(target.schema)}`);
    await tx.unsafe(`CREATE TABLE IF NOT EXISTS ${target.sql} (${defs.join(", ")}) PARTITION BY RANGE (${q(cols.time)})`);
    if (cols.tenant) {
      const name = derivedName(target.table, "_tenant_time_idx");
      await tx.unsafe(`CREATE INDEX IF NOT EXISTS ${q(name)} ON ${target.sql} (${q(cols.tenant)}, ${q(cols.time)})`);
    }
    if (ginIndexOnData && cols.data) {
      const name = derivedName(target.table, "_data_gin_idx");
      await tx.unsafe(`CREATE INDEX IF NOT EXISTS ${q(name)} ON ${target.sql} USING gin (${q(cols.data)})`);
    }
  });
}

/** What the stage knows about the table it writes. */
export interface TableInfo {
  /** Column name -> type without modifiers (e.g. "character varying", so casts never truncate). */
  types: Map<string, string>;
  partitioned: boolean;
}

/** Reads the table's columns; PERSIST_SCHEMA when the table or a mapped column is missing. */
export async function describeTable(sql: Sql, target: Target, cols: ResolvedColumns): Promise<TableInfo> {
  const rel = await sql.unsafe<Array<{ kind: string }>>(`SELECT relkind AS kind FROM pg_class WHERE oid = to_regclass($1)`, [target.sql]);
  if (rel.length === 0) {
    throw new PersistError("PERSIST_SCHEMA", `table ${target.sql} does not exist (manageSchema is false, or the migration did not run)`, {
      retriable: false,
      context: { schema: target.schema, table: target.table },
    });
  }
  const rows = await sql.unsafe<Array<{ name: string; type: string }>>(
    `SELECT attname AS name, format_type(atttypid, NULL) AS type FROM pg_attribute
      WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`,
    [target.sql],
  );
  const types = new Map(rows.map((r) => [r.name, r.type]));
  const missing = cols.names.filter((n) => !types.has(n));
  if (missing.length) {
    throw new PersistError("PERSIST_SCHEMA", `table ${target.sql} lacks mapped column(s) ${missing.join(", ")}`, {
      retriable: false,
      context: { schema: target.schema, table: target.table, missing },
    });
  }
  return { types, partitioned: rel[0].kind === "p" };
}
