/**
 * Who did what in a bench run, to explain run-to-run spread: per worker, when it started, which partitions
 * it was assigned and when (from the fleet's info-level log), how many rows its partitions got and when its
 * first and last row was written (from the table's kafka_partition and written_at). One worker finishing
 * seconds before the other (assignment skew, a late join) shows up as a gap between their last rows.
 *
 *   bun dev/bench/fleet-timeline.ts FLEET_LOG    (the log a bench run kept: --keep, or --timeline)
 */
import { readFileSync } from "node:fs";
import type { Sql } from "postgres";

/** One worker's part of the run. */
export interface WorkerTimeline {
  worker: number;
  pid: number | null;
  startedAt: number | null;
  /** Assignment changes in order: ms since the first engine start, "+" assigned / "-" revoked, partitions. */
  changes: Array<{ atMs: number; kind: "+" | "-"; partitions: number[] }>;
  /** Partitions held at the end of processing (before the shutdown's final revocation). */
  partitions: number[];
  /** Epoch ms of the first assignment with partitions (null: never got any). */
  firstPartitionsAt: number | null;
  /** Events the worker reported at stop ("engine stopped"). */
  events: number | null;
}

/** Per source partition: rows written and the first / last written_at (epoch ms). */
export interface PartitionSpan {
  partition: number;
  rows: number;
  firstMs: number;
  lastMs: number;
}

type LogLine = { msg?: string; worker?: number; pid?: number; time?: string; partitions?: Array<{ partition: number }>; progress?: { events?: number } };

/** Reads the assignment timeline of every worker out of a fleet log (pino JSON lines, info level). */
export function parseFleetLog(text: string): WorkerTimeline[] {
  const lines: LogLine[] = [];
  for (const raw of text.split("\n")) {
    if (!raw.startsWith("{")) continue;
    try {
      lines.push(JSON.parse(raw));
    } catch {
      // a line cut by the kill at the end of the run
    }
  }
  const starts = lines.filter((l) => l.msg === "engine started" && l.time).map((l) => Date.parse(l.time!));
  const t0 = starts.length ? Math.min(...starts) : 0;
  const by = new Map<number, WorkerTimeline & { held: Set<number>; before: number[] }>();
  for (const l of lines) {
    if (typeof l.worker !== "number") continue;
    let w = by.get(l.worker);
    if (!w) by.set(l.worker, (w = { worker: l.worker, pid: l.pid ?? null, startedAt: null, changes: [], partitions: [], firstPartitionsAt: null, events: null, held: new Set(), before: [] }));
    const at = l.time ? Date.parse(l.time) - t0 : 0;
    if (l.msg === "engine started") w.startedAt = at;
    else if (l.msg === "partitions assigned" || l.msg === "partitions revoked") {
      const kind = l.msg === "partitions assigned" ? "+" : "-";
      const ps = (l.partitions ?? []).map((p) => p.partition).sort((a, b) => a - b);
      if (kind === "+" && ps.length && w.firstPartitionsAt === null && l.time) w.firstPartitionsAt = Date.parse(l.time);
      w.before = [...w.held];
      for (const p of ps) kind === "+" ? w.held.add(p) : w.held.delete(p);
      w.changes.push({ atMs: at, kind, partitions: ps });
    } else if (l.msg === "engine stopped") w.events = l.progress?.events ?? null;
  }
  return [...by.values()]
    .sort((a, b) => a.worker - b.worker)
    .map(({ held, before, ...w }) => {
      // A last change that revoked everything is the shutdown: report what was held before it.
      const last = w.changes.at(-1);
      const end = held.size === 0 && last?.kind === "-" ? before : [...held];
      return { ...w, partitions: end.sort((a, b) => a - b) };
    });
}

/** Rows and first/last write time per source partition of a bench table (it has written_at, see e2e.ts). */
export async function partitionSpans(sql: Sql, table: string): Promise<PartitionSpan[]> {
  const rows = await sql<Array<{ p: number; n: string; first: number; last: number }>>`
    SELECT kafka_partition AS p, count(*) AS n,
           extract(epoch FROM min(written_at)) * 1000 AS first, extract(epoch FROM max(written_at)) * 1000 AS last
    FROM ${sql(table)} GROUP BY 1 ORDER BY 1`;
  return rows.map((r) => ({ partition: r.p, rows: Number(r.n), firstMs: Number(r.first), lastMs: Number(r.last) }));
}

/**
 * Throughput once every worker had partitions: rows written from then on over the time to the last row.
 * Start-up (one worker consuming alone until the other joins) is the part of a short max-mode run that
 * varies most between runs; this figure leaves it out.
 */
export async function allAssignedRate(sql: Sql, table: string, workers: WorkerTimeline[]): Promise<{ atMs: number; soloMs: number; eventsPerMin: number } | null> {
  const firsts = workers.map((w) => w.firstPartitionsAt);
  if (firsts.length < 2 || firsts.some((t) => t === null)) return null;
  const at = Math.max(...(firsts as number[]));
  const [r] = await sql<Array<{ n: string; last: number }>>`
    SELECT count(*) AS n, extract(epoch FROM max(written_at)) * 1000 AS last FROM ${sql(table)} WHERE written_at >= to_timestamp(${at / 1000})`;
  const ms = Number(r.last) - at;
  return { atMs: at, soloMs: at - Math.min(...(firsts as number[])), eventsPerMin: ms > 0 ? Math.round((Number(r.n) * 60_000) / ms) : NaN };
}

/** Human lines: per worker its assignment history, rows, and first/last write relative to the first row. */
export function formatTimeline(workers: WorkerTimeline[], spans: PartitionSpan[]): string[] {
  const t0 = spans.length ? Math.min(...spans.map((s) => s.firstMs)) : 0;
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const out: string[] = [];
  for (const w of workers) {
    const mine = spans.filter((p) => w.partitions.includes(p.partition));
    const rows = mine.reduce((n, p) => n + p.rows, 0);
    const last = mine.length ? Math.max(...mine.map((p) => p.lastMs)) - t0 : NaN;
    const hist = w.changes.map((c) => `${s(c.atMs)} ${c.kind}[${c.partitions.join(",")}]`).join(" ");
    out.push(`  worker ${w.worker} (pid ${w.pid}): started ${w.startedAt === null ? "?" : s(w.startedAt)}; ${hist || "no assignment logged"}; ` +
      `ends with ${w.partitions.length} partitions, ${rows} rows in them (events reported ${w.events ?? "?"}), its last row at ${s(last)}`);
  }
  if (spans.length) {
    const lasts = spans.map((p) => p.lastMs - t0);
    out.push(`  partitions: rows ${Math.min(...spans.map((p) => p.rows))}..${Math.max(...spans.map((p) => p.rows))}, last row at ${s(Math.min(...lasts))}..${s(Math.max(...lasts))} after the first`);
  }
  return out;
}

if (import.meta.main) {
  const file = Bun.argv[2];
  if (!file) {
    console.error("Usage: bun dev/bench/fleet-timeline.ts FLEET_LOG");
    process.exit(2);
  }
  for (const w of parseFleetLog(readFileSync(file, "utf8"))) console.log(JSON.stringify(w));
}
