/**
 * End-to-end latency and the start of the processing window of a run, read back from the events table.
 *
 * Latency is per persisted event: `<column> - time`, from the CloudEvents `time` the generator stamps just
 * before producing to
 * - `written_at` when the table has it (the benchmark adds `written_at timestamptz DEFAULT clock_timestamp()`
 *   to its own table: the moment PostgreSQL inserted the row, inside the transaction that makes it visible
 *   at commit a few milliseconds later), or
 * - `ingested_at` otherwise (when a worker's enrich stage took the event in: excludes dedupe and persist).
 * Both cover Kafka (produce, broker, fetch) and any backlog queueing. All stamps come from one host's clock.
 */
import type { Sql } from "postgres";
import { LoadgenError } from "../loadgen/errors.ts";

/** Latency percentiles in ms and the ingest window of a run's rows. */
export interface RunTiming {
  /** The column latency was measured to. */
  column: "written_at" | "ingested_at";
  rows: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  /** First and last ingested_at among the run's rows (epoch ms); null when there are no rows. */
  firstIngestMs: number | null;
  lastIngestMs: number | null;
}

/** Reads the run's latency percentiles and ingest window (see the module doc for the definition). */
export async function runTiming(sql: Sql, table: string, runId: string, column: "written_at" | "ingested_at" = "ingested_at"): Promise<RunTiming> {
  try {
    const [r] = await sql<Array<{ rows: string; p: number[] | null; max: number | null; first: number | null; last: number | null }>>`
      SELECT count(*) AS rows,
             percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY l) AS p,
             max(l) AS max,
             extract(epoch FROM min(ingested_at)) * 1000 AS first,
             extract(epoch FROM max(ingested_at)) * 1000 AS last
      FROM (SELECT ingested_at, extract(epoch FROM (${sql(column)} - time)) * 1000 AS l
            FROM ${sql(table)} WHERE id LIKE ${runId + "-%"}) s`;
    const p = r.p ?? [NaN, NaN, NaN];
    return {
      column,
      rows: Number(r.rows),
      p50Ms: Number(p[0]),
      p95Ms: Number(p[1]),
      p99Ms: Number(p[2]),
      maxMs: Number(r.max ?? NaN),
      firstIngestMs: r.first === null ? null : Number(r.first),
      lastIngestMs: r.last === null ? null : Number(r.last),
    };
  } catch (err) {
    throw new LoadgenError("AUDIT_QUERY_FAILED", `could not read latency from ${table}: ${(err as Error)?.message ?? err}`, {
      retriable: true,
      cause: err,
      context: { table },
    });
  }
}
