/**
 * Persist stage benchmark: rows/s through `PersistStage.process` into a fresh daily-partitioned table
 * (primary key (time, source, id), index (tenant, time)), batches of --batch events whose COPY lines were
 * built beforehand as the enrich threads do (as UTF-8 bytes, EnrichedEvents.copyBytes), --connections
 * batches in flight on as many connections. It reports the CPU per row of this process (the worker's main
 * thread's share of persisting) and of the PostgreSQL backends serving the bench's database.
 * Every row is new, so the measured path is the common one (no conflicts, no bad rows); durability is the
 * server's default synchronous_commit. The table is dropped afterwards.
 *
 *   bun dev/bench/persist.ts [--rows N] [--connections C] [--method copy|unnest] [--batch B]
 *                            [--url postgres://…|embedded] [--replay] [--json]
 *
 * --replay then writes the same records again, as a worker does after a crash between COMMIT and the
 * offset commit: every row conflicts with its own earlier copy and must come back Persisted (COPY falls
 * back to the staging table), reported as replay_rows_per_s.
 * --url embedded runs against PGlite behind the embedded server (which persists with unnest).
 * With --json the last stdout line is {"rows_per_s":…,"method":…,"connections":…,"client_cpu_us_per_row":…,
 * "server_cpu_us_per_row":…,…}.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventStatus, type Batch } from "../../shared/stages/batch.ts";
import { encodeCopyLines } from "../../shared/stages/enrich/copy-bytes.ts";
import { EMBEDDED_URL } from "../../shared/stages/persist/config.ts";
import { createPersistStage } from "../../shared/stages/persist/index.ts";
import { Metrics } from "../../shared/telemetry/metrics.ts";
import { makeBatch, type FixtureEvent } from "../support/persist-batches.ts";
import { stageContext } from "../support/stage-context.ts";
import { persistConfig } from "../support/stage-configs.ts";
import { PG_URL } from "../support/services.ts";
import { ServiceCpuSampler } from "./service-cpu.ts";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}
function positive(name: string, def: number): number {
  const raw = arg(name);
  if (raw === undefined) return def;
  const v = Number(raw);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} needs a positive integer`);
  return v;
}

const json = process.argv.includes("--json");
const rows = positive("rows", 200_000);
const connections = positive("connections", 4);
const batchSize = positive("batch", 5_000);
const method = arg("method") ?? "copy";
if (method !== "copy" && method !== "unnest") throw new Error("--method must be copy or unnest");
const url = arg("url") ?? PG_URL;
const replay = process.argv.includes("--replay");
const command =
  `bun dev/bench/persist.ts --rows ${rows} --connections ${connections} --method ${method} --batch ${batchSize}` +
  `${arg("url") ? ` --url ${url === EMBEDDED_URL ? EMBEDDED_URL : "<url>"}` : ""}${replay ? " --replay" : ""}${json ? " --json" : ""}`;
const log = (s: string) => (json ? console.error(s) : console.log(s));

/** Every GAP_EVERY-th event is settled before persist (~3 %, the bench's duplicate + invalid share). */
const GAP_EVERY = 33;

/** ~150-byte CloudEvents data, 16 tenants, times spread over today (one partition, as live traffic). */
function batches(): Batch[] {
  const dayStart = Math.floor(Date.now() / 86_400_000) * 86_400_000;
  const out: Batch[] = [];
  for (let start = 0; start < rows; start += batchSize) {
    const events: FixtureEvent[] = [];
    for (let k = start; k < Math.min(rows, start + batchSize); k++) {
      events.push({
        id: `evt-${k.toString(36)}-${(k * 2654435761) >>> 0}`,
        source: `/tenants/t${k % 16}/orders`,
        type: "com.example.order.created",
        subject: `order-${k}`,
        time: new Date(dayStart + ((k * 7919) % 86_400_000)).toISOString(),
        tenant: `t${k % 16}`,
        data: JSON.stringify({ order: k, customer: `c${k % 9973}`, amount: (k % 10000) / 100, currency: "EUR", items: [{ sku: `sku-${k % 313}`, qty: 1 + (k % 3) }] }),
        extensions: '{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}',
        partition: k % 8,
        offset: k,
      });
    }
    const batch = makeBatch(events);
    // The enrich stage hands persist its lines as bytes; the persist stage writes runs of them.
    const copy = encodeCopyLines(batch.events!.copyLines);
    batch.events!.copyBytes = copy.bytes;
    batch.events!.copyStarts = copy.starts;
    // As in a live batch, a few events never reach persist (duplicates the dedupe stage dropped, events the
    // enrich stage rejected): the live events are runs with gaps, not one block.
    for (let i = GAP_EVERY - 1; i < batch.size; i += GAP_EVERY) batch.markDuplicate(i);
    out.push(batch);
  }
  return out;
}

const dataDir = mkdtempSync(join(tmpdir(), "tf-bench-persist-"));
const table = `bench_persist_${process.pid}_${Date.now().toString(36)}`;
const cfg = persistConfig({ url, table, method, connections, partitionsAheadDays: 1 });
const stage = createPersistStage(cfg);
const metrics = new Metrics();
try {
  const work = batches();
  const live = work.reduce((n, b) => n + b.liveIndexes().length, 0);
  await stage.start(stageContext({ dataDir, metrics }));
  const effectiveMethod = stage.method!;
  log(`# ${command}`);
  log(`persist bench: ${rows} rows, batches of ${batchSize}, ${connections} connections / batches in flight, method ${effectiveMethod}`);
  // PostgreSQL's backends for the bench's database (not the embedded server, which is this process).
  const admin = url === EMBEDDED_URL ? null : (await import("postgres")).default(url, { max: 1, onnotice: () => undefined });
  /** Runs every batch with `connections` in flight; seconds elapsed, client CPU µs, server CPU s. */
  const runAll = async (list: Batch[]) => {
    let next = 0;
    const server = admin ? await new ServiceCpuSampler(new Map(), admin).start(100) : null;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: connections }, async () => {
        while (next < list.length) await stage.process(list[next++]);
      }),
    );
    const cpu = process.cpuUsage(cpu0);
    const serverS = server ? (await server.stop()).postgres ?? 0 : NaN;
    const persisted = list.reduce((n, b) => n + b.count(EventStatus.Persisted), 0);
    if (persisted !== live) throw new Error(`only ${persisted} of ${live} rows came back persisted`);
    return { seconds: (performance.now() - t0) / 1000, cpuUs: cpu.user + cpu.system, serverS };
  };
  const { seconds, cpuUs, serverS } = await runAll(work);
  await admin?.end();
  const replayed = replay ? await runAll(batches()) : null;
  const result = {
    rows,
    rows_per_s: Math.round(live / seconds),
    seconds: Number(seconds.toFixed(3)),
    method: effectiveMethod,
    connections,
    batch: batchSize,
    persisted: live,
    client_cpu_us_per_row: Number((cpuUs / live).toFixed(2)),
    server_cpu_us_per_row: Number.isNaN(serverS) ? null : Number(((serverS * 1e6) / live).toFixed(2)),
    backend: url === EMBEDDED_URL ? "pglite" : "postgres",
    ...(replayed ? { replay_rows_per_s: Math.round(live / replayed.seconds) } : {}),
  };
  log(`rows/s: ${result.rows_per_s}  (${result.seconds} s, client CPU ${result.client_cpu_us_per_row} µs/row, PostgreSQL CPU ${result.server_cpu_us_per_row ?? "n/a"} µs/row)`);
  if (replayed) log(`replay (every row already stored by this run): ${result.replay_rows_per_s} rows/s`);
  if (json) console.log(JSON.stringify(result));
} finally {
  // Drop the table through the stage's own database (works for embedded too).
  const { default: postgres } = await import("postgres");
  if (url !== EMBEDDED_URL) {
    const admin = postgres(url, { max: 1, onnotice: () => undefined });
    await admin.unsafe(`DROP TABLE IF EXISTS public."${table}" CASCADE`);
    await admin.end();
  }
  await stage.close();
  rmSync(dataDir, { recursive: true, force: true });
}
