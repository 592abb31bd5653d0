/**
 * The SQL text of every statement the stage runs per batch, built once at start from the target table,
 * the column mapping and the column types. Values never appear in this text: they travel as COPY data or
 * as text[] parameters that the statements cast to each column's type.
 */
import type { ResolvedColumns } from "./columns.ts";
import type { TableInfo } from "./schema.ts";
import { derivedName, quoteIdent, type Target } from "./sql-text.ts";

/** Position of a row within the written chunk (1-based, as WITH ORDINALITY counts). */
export const ORD = "topofleet_ord";

/** Every statement of the write path for one table and mapping. */
export interface WritePlan {
  columns: ResolvedColumns;
  /** True when the mapping stores the Kafka position, so a retry can recognise its own earlier rows. */
  matchesOwnRows: boolean;
  /** Per-connection staging table for the COPY path (emptied at every commit). */
  createStaging: string;
  copyIntoStaging: string;
  /** COPY straight into the table: all-or-nothing, fails with 23505 when any row exists already. */
  copyIntoTarget: string;
  /** INSERT ... ON CONFLICT DO NOTHING; the command's row count says whether anything conflicted. */
  insertFromStaging: string;
  insertFromUnnest: string;
  /** Variants returning the ordinals of the rows this statement inserted (for mappings without Kafka position). */
  insertFromStagingReturning: string;
  insertFromUnnestReturning: string;
  /** Ordinals of (source, id, time, partition, offset) tuples that exist in the table. */
  selectOwnRows: string;
  /** Ordinals of (source, id, time) tuples that exist in the table. */
  selectExisting: string;
  /**
   * Like selectExisting, with (partition, offset) too and an `own` column: true when the stored row was
   * written from that same Kafka record (a re-delivery after a crash), not from another copy of the event.
   */
  selectExistingOwn: string;
}

/** Builds every per-batch statement for one table and mapping. */
export function buildWritePlan(target: Target, cols: ResolvedColumns, table: TableInfo): WritePlan {
  const q = quoteIdent;
  const typeOf = (name: string): string => table.types.get(name)!;
  const colList = cols.names.map(q).join(", ");
  const staging = q(derivedName(target.table, "_topofleet_staging"));

  // unnest(text[] ...) WITH ORDINALITY AS u(c0, c1, ..., ord), each column cast to its (unmodified) type:
  // casting to "character varying" rather than varchar(n) keeps "value too long" an error (22001).
  const params = cols.names.map((_, k) => `$${k + 1}::text[]`).join(", ");
  const aliases = cols.names.map((_, k) => `c${k}`).join(", ");
  const casts = cols.names.map((name, k) => `u.c${k}::${typeOf(name)} AS ${q(name)}`).join(", ");
  const unnestRows = `SELECT ${casts}, u.${ORD} FROM unnest(${params}) WITH ORDINALITY AS u(${aliases}, ${ORD})`;

  const identityJoin = (a: string, b: string) => [cols.source, cols.id, cols.time].map((c) => `${a}.${q(c)} = ${b}.${q(c)}`).join(" AND ");
  const identity = [cols.source, cols.id, cols.time].map(q).join(", ");
  const srcIdentity = [cols.source, cols.id, cols.time].map((c) => `src.${q(c)}`).join(", ");
  const insertSelect = (from: string) => `INSERT INTO ${target.sql} (${colList}) SELECT ${colList} FROM ${from} ON CONFLICT DO NOTHING`;
  // RETURNING can only name target columns, so the inserted rows are joined back to their source rows to
  // learn their ordinals; min() picks one ordinal when the chunk itself holds the same identity twice.
  const returning = (rows: string) =>
    `WITH src AS MATERIALIZED (${rows}), ins AS (${insertSelect("src")} RETURNING ${identity}) ` +
    `SELECT min(src.${ORD})::int AS ord FROM src JOIN ins ON ${identityJoin("src", "ins")} GROUP BY ${srcIdentity}`;

  // Identity lookups, one primary-key probe per row (with run-time partition pruning by time). The LIMIT
  // keeps the LATERAL subquery from being flattened into a join: as a semi-join the planner hashes whole
  // partitions once a chunk has a few thousand rows (measured: a full scan of 100k rows for 5000 probes),
  // which grows with the table, while the probes do not.
  const lookup = (extra: Array<[alias: string, column: string]>, select: Array<[alias: string, column: string]> = []) => {
    const keys: Array<[string, string]> = [["s", cols.source], ["i", cols.id], ["t", cols.time], ...extra];
    const all = [...keys, ...select];
    const arrays = all.map((_, k) => `$${k + 1}::text[]`).join(", ");
    const cond = keys.map(([a, c]) => `x.${q(c)} = u.${a}::${typeOf(c)}`).join(" AND ");
    const own = select.length ? select.map(([a, c]) => `x.${q(c)} = u.${a}::${typeOf(c)}`).join(" AND ") : "true";
    return `SELECT u.${ORD}::int AS ord, hit.own FROM unnest(${arrays}) WITH ORDINALITY AS u(${all.map(([a]) => a).join(", ")}, ${ORD}) ` +
      `CROSS JOIN LATERAL (SELECT (${own}) AS own FROM ${target.sql} x WHERE ${cond} LIMIT 1) hit`;
  };

  const matchesOwnRows = cols.kafkaPartition !== null && cols.kafkaOffset !== null;
  return {
    columns: cols,
    matchesOwnRows,
    createStaging: `CREATE TEMP TABLE IF NOT EXISTS ${staging} (LIKE ${target.sql} INCLUDING DEFAULTS, ${ORD} integer) ON COMMIT DELETE ROWS`,
    copyIntoStaging: `COPY ${staging} (${colList}, ${ORD}) FROM STDIN`,
    copyIntoTarget: `COPY ${target.sql} (${colList}) FROM STDIN`,
    insertFromStaging: insertSelect(staging),
    insertFromUnnest: `INSERT INTO ${target.sql} (${colList}) SELECT ${colList} FROM (${unnestRows}) r ON CONFLICT DO NOTHING`,
    insertFromStagingReturning: returning(`SELECT * FROM ${staging}`),
    insertFromUnnestReturning: returning(unnestRows),
    selectOwnRows: matchesOwnRows ? lookup([["p", cols.kafkaPartition!], ["o", cols.kafkaOffset!]]) : "",
    selectExisting: lookup([]),
    selectExistingOwn: matchesOwnRows ? lookup([], [["p", cols.kafkaPartition!], ["o", cols.kafkaOffset!]]) : "",
  };
}
