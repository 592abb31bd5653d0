/**
 * What the events table holds for one generator run, by id: the run's unique ids are `<runId>-<n>` for n in
 * [0, unique) (shared/loadgen/manifest.ts), so one scan answers "how many of them are there, how many rows
 * share an identity, and which rows should not be there at all".
 */
import type { Sql } from "postgres";
import { LoadgenError } from "../loadgen/errors.ts";

/** Row counts for one run. */
export interface RunRows {
  /** Rows whose id starts with `<runId>-`. */
  rows: number;
  /** Distinct (source, id) among them. */
  identities: number;
  /** Distinct n in [0, unique) present: the run's unique events that were persisted. */
  persistedUnique: number;
  /** Rows of the run whose id is not in the manifest's set (an invalid event persisted, or n >= unique). */
  unexpected: number;
}

const wrap = (what: string, table: string, cause: unknown): LoadgenError =>
  new LoadgenError("AUDIT_QUERY_FAILED", `audit could not ${what} in ${table}: ${(cause as Error)?.message ?? cause}`, {
    retriable: true,
    cause,
    context: { table },
  });

/** Counts the run's rows in `table` (schema-qualified allowed: "public.events"). One sequential scan. */
export async function countRunRows(sql: Sql, table: string, runId: string, unique: number): Promise<RunRows> {
  // runId is alphanumeric (checked by the manifest), so it is safe inside the LIKE and regex patterns.
  const prefix = `${runId}-`;
  const exact = `^${runId}-(0|[1-9][0-9]{0,14})$`;
  try {
    const [r] = await sql<Array<{ rows: string; identities: string; persisted_unique: string; unexpected: string }>>`
      SELECT count(*) AS rows,
             count(DISTINCT (source, id)) AS identities,
             count(DISTINCT n) FILTER (WHERE n < ${unique}) AS persisted_unique,
             count(*) FILTER (WHERE n IS NULL OR n >= ${unique}) AS unexpected
      FROM (SELECT source, id,
                   CASE WHEN id ~ ${exact} THEN substr(id, ${prefix.length + 1})::bigint END AS n
            FROM ${sql(table)} WHERE id LIKE ${prefix + "%"}) s`;
    return {
      rows: Number(r.rows),
      identities: Number(r.identities),
      persistedUnique: Number(r.persisted_unique),
      unexpected: Number(r.unexpected),
    };
  } catch (err) {
    throw wrap("count the run's rows", table, err);
  }
}

/** Up to `limit` ids of the run that have no row, smallest n first. */
export async function missingIds(sql: Sql, table: string, runId: string, unique: number, limit: number): Promise<string[]> {
  if (unique === 0 || limit <= 0) return [];
  try {
    const rows = await sql<Array<{ id: string }>>`
      SELECT ${runId + "-"} || g AS id FROM generate_series(0, ${unique - 1}::bigint) g
      WHERE NOT EXISTS (SELECT 1 FROM ${sql(table)} t WHERE t.id = ${runId + "-"} || g)
      ORDER BY g LIMIT ${limit}`;
    return rows.map((r) => r.id);
  } catch (err) {
    throw wrap("list missing ids", table, err);
  }
}

/** Up to `limit` identities of the run stored more than once, with their row counts. */
export async function duplicatedIdentities(sql: Sql, table: string, runId: string, limit: number): Promise<Array<{ source: string; id: string; rows: number }>> {
  try {
    const rows = await sql<Array<{ source: string; id: string; rows: string }>>`
      SELECT source, id, count(*) AS rows FROM ${sql(table)} WHERE id LIKE ${runId + "-%"}
      GROUP BY source, id HAVING count(*) > 1 ORDER BY id LIMIT ${limit}`;
    return rows.map((r) => ({ source: r.source, id: r.id, rows: Number(r.rows) }));
  } catch (err) {
    throw wrap("list duplicated identities", table, err);
  }
}
