/**
 * `bun run bench`: the end-to-end benchmark and correctness audit in one command.
 *
 * Fresh topic, DLQ topic, table, consumer group and Bloom key prefix per run; a temporary topology file
 * pointing at them; the generator produces (all up front with --events, or at --rate concurrently with the
 * fleet); `bun workers/topology.ts <tmp> --max-events <produced> --json` runs as a subprocess until it has
 * processed every event; then the audit checks the table and the DLQ against the generator's manifest.
 *
 * Exit codes: 0 pass, 1 audit failed (or the fleet failed), 2 invalid run (broker retention deleted
 * messages before they were consumed) or usage error.
 */
import { mkdtempSync, mkdirSync, openSync, rmSync, closeSync, readFileSync } from "node:fs";
import type { RunSummary } from "../../shared/cli/summary.ts";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import postgres from "postgres";
import { formatAudit, type AuditReport, type RunTiming } from "../../shared/audit/index.ts";
import { auditBenchRun, auditedRunFields, benchCli, benchPartitions, benchProducer, benchWatcher, cleanupBenchRun, localBrokerPid, openBenchKafka, prepareBenchTable, round } from "./bench-run.ts";
import { runCli, usageError, GENERATOR_FLAG_SPEC, generatorConfigFromFlags } from "../../shared/loadgen/cli-flags.ts";
import { benchTopologyYaml, BENCH_ENV } from "../../shared/loadgen/bench-topology.ts";
import { KEY_MODES, newRunId, runGenerator, type GeneratorResult } from "../../shared/loadgen/index.ts";
import { PeakRssSampler, processTree, rssTrend, type RssTrend } from "../../shared/loadgen/process-tree.ts";
import { ThreadCpuSampler, type ThreadKindCpu } from "./thread-cpu.ts";
import { rdkafkaInfo } from "../../shared/kafka/ffi/lib.ts";
import { cpus, loadavg } from "node:os";
import { dedupeFilterUsed, redisCpuSeconds } from "./redis-side.ts";
import { ServiceCpuSampler, parseServicePids } from "./service-cpu.ts";
import { MetricsScraper, type FleetCounters } from "./fleet-metrics.ts";
import { allAssignedRate, formatTimeline, parseFleetLog, partitionSpans, type WorkerTimeline } from "./fleet-timeline.ts";
import { freePort } from "../support/net.ts";
import { machineProbeUs } from "./machine-probe.ts";

const REPO = resolve(import.meta.dir, "../..");

/** The --help text (also in docs/reference/cli.md). */
export const USAGE = `Usage: bun run bench [flags]

End-to-end benchmark with a correctness audit. Kafka: $KAFKA_BROKERS, else an in-process mock cluster
started by the bench. PostgreSQL: $DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).
Redis: $REDIS_URL (default redis://127.0.0.1:6379).

Modes:
  --events N            max throughput: produce N events up front, then process them (default 200000)
  --rate R [--duration D | --events N]
                        sustained: produce at R events/s (for D, default 60s, or N events) while the fleet runs

Pipeline:
  --replicas N          worker processes (default 1)
  --threads N           enrich threads per worker (default: the topology default, cores - 1)
  --batch N             batch.maxEvents (default: the topology default)
  --connections N       persist connections per worker (default: the topology default)
  --in-flight N         concurrency.inFlightBatches (default: the topology default)
  --dedupe MODE         auto|bloom|bitmap: the dedupe stage's redis.mode (default auto: RedisBloom BF.* when
                        the server at $REDIS_URL has it, else the BITFIELD bitmap)
  --partitions N        source partitions (default 8, on the mock at least what holds the run; a smaller
                        explicit value is honoured, and the retention check then reports an invalid run)

Events:
  --size BYTES          payload bytes per event (default 200)
  --tenants N           (default 8)      --dup-ratio X (default 0.02)     --invalid-ratio X (default 0.01)
  --binary-ratio X      (default 0.1)    --key tenant|id|none (default id)
  --compression C       none|gzip|snappy|lz4|zstd (default none)          --seed N

Other:
  --timeout D           give up on the fleet after D (default 10m, plus --duration in sustained mode)
  --keep                keep the table, topics and Redis keys
  --timeline            run the fleet at log level info and print, per worker, its partition assignments over
                        time, the rows of its partitions and when its last row was written (run-to-run spread);
                        --json then carries "workers"
  --service-pids LIST   name=pid,... of other co-resident processes whose CPU per million events to report
                        (a broker listening on this machine at KAFKA_BROKERS' first address is found by itself: "kafka")
                        (e.g. kafka=$(cat /tmp/x-kafka/kafka.pid)); PostgreSQL backends of the bench's database
                        are always counted ("service_cpu_s_per_million" in --json)
  --profile DIR         write a .cpuprofile per fleet process (supervisor and workers; not the enrich
                        threads) into DIR (bun --cpu-prof via BUN_OPTIONS); summarize them with
                        bun dev/bench/profile-summary.ts DIR --events N
  --json                last stdout line: {"events","events_per_min","lost","duplicated","duplicates_dropped",
                        "invalid","p50_ms","p95_ms","p99_ms","cpu_s_per_million","max_rss_mb",
                        "cpu_s_per_million_by_thread" (per thread kind: bun = JS main threads, Worker = enrich
                        threads, JITWorker, HeapHelper = GC, rdk:* = librdkafka, mi-scavenger = allocator),
                        "dedupe_filter" (bloom|bitmap), "redis_cpu_s_per_million" (the Redis server's CPU over the
                        run: exact on a Redis of your own, others' work included on a shared one), "kafka"
                        (mock|broker), "librdkafka", "cores", "load_avg" (1-minute, at start and at end),
                        "generator_cpu_s_per_million" (this process while producing: the load generator),
                        "machine_cpu_s_per_million" (fleet + Redis + the services above, + the generator in
                        sustained mode, where it produces on the same cores), "machine_ceiling_per_min"
                        (cores / that: the most this machine could do with nothing else running),
                        "rss_trend" (the worst worker's RSS: first and last quarter, slope in MB/min; warm-up excluded),
                        "machine_probe_us" (this host's speed, dev/bench/machine-probe.ts: compare.ts scales by it),
                        "offered_per_s" (the generator's achieved rate),
                        "deleted_before_read","reset_backward","reread" (from the fleet's summary)}
  -h, --help

Exit codes: 0 pass, 1 audit failed or the fleet failed, 2 invalid run (retention) or usage error.
`;

const SPEC = {
  ...GENERATOR_FLAG_SPEC,
  replicas: { type: "string" },
  threads: { type: "string" },
  batch: { type: "string" },
  connections: { type: "string" },
  "in-flight": { type: "string" },
  timeout: { type: "string" },
  keep: { type: "boolean" },
  profile: { type: "string" },
  dedupe: { type: "string" },
  timeline: { type: "boolean" },
  "service-pids": { type: "string" },
} as const;

/** Waits until GET /readyz answers 200, the process exits, or the deadline passes. */
async function waitReady(port: number, exited: Promise<number>, timeoutMs: number): Promise<boolean> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = performance.now() + timeoutMs;
  while (!gone && performance.now() < deadline) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`)
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) return true;
    await Bun.sleep(250);
  }
  return false;
}

type FleetSummary = RunSummary;

const lastJsonLine = (out: string): FleetSummary | null => {
  const line = out.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(line) as FleetSummary;
  } catch {
    return null;
  }
};

async function main(): Promise<number> {
  const argv = Bun.argv.slice(2);
  const cli = benchCli(argv, SPEC, USAGE);
  if (!cli) return 0;
  const { f, json, say } = cli;
  const sustained = f.has("rate");
  if (f.has("duration") && !sustained) throw usageError("--duration needs --rate (sustained mode)");
  const rate = sustained ? f.number("rate", 0, 1) : 0;
  const durationMs = f.duration("duration", 60_000)!;
  const events = f.has("events") || !sustained ? f.int("events", 200_000, 1) : Math.max(1, Math.round((rate * durationMs) / 1000));
  const config = generatorConfigFromFlags(f, rate, events);
  const payloadBytes = config.payloadBytes;
  const key = f.oneOf("key", KEY_MODES, "id");
  const compression = f.oneOf("compression", ["none", "gzip", "snappy", "lz4", "zstd"] as const, "none");
  const replicas = f.int("replicas", 1, 1);
  // The fleet runs while the generator produces: a sustained run needs its whole duration plus room to drain.
  const timeoutMs = f.duration("timeout", (sustained ? durationMs : 0) + 10 * 60_000)!;
  const seed = f.int("seed", null, 0) ?? undefined;
  const redisMode = f.oneOf("dedupe", ["auto", "bloom", "bitmap"] as const, "auto");
  const loadAtStart = loadavg()[0];
  // Before anything of the run starts: how fast this host is today (see machine-probe.ts).
  const probeUs = machineProbeUs();

  const tag = newRunId().toLowerCase();
  const names = {
    pipeline: `bench-${tag}`,
    topic: `bench-${tag}`,
    dlq: `bench-${tag}.dlq`,
    group: `bench-${tag}`,
    table: `bench_${tag}`,
    prefix: `tf:bench:${tag}`,
  };
  const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  const external = process.env.KAFKA_BROKERS || null;
  const explicit = f.has("partitions") ? f.int("partitions", 8, 1) : null;
  const { partitions, dlqPartitions } = benchPartitions({ external: external !== null, events, payloadBytes, invalidRatio: config.invalidRatio, explicit, say });

  const tmp = mkdtempSync(join(tmpdir(), "tf-bench-"));
  const { brokers, mock, kafka } = await openBenchKafka({ external, names, partitions, dlqPartitions });
  const httpPort = await freePort();
  const topologyFile = join(tmp, "bench.yaml");
  await Bun.write(
    topologyFile,
    benchTopologyYaml({
      name: names.pipeline,
      brokers,
      topic: names.topic,
      deadLetterTopic: names.dlq,
      group: names.group,
      table: names.table,
      redisPrefix: names.prefix,
      expectedEvents: events,
      replicas,
      threads: f.int("threads", null, 1),
      batch: f.int("batch", null, 1),
      connections: f.int("connections", null, 1),
      inFlightBatches: f.int("in-flight", null, 1),
      httpPort,
      redisMode,
      logLevel: f.bool("timeline") ? "info" : undefined,
    }),
  );
  const fleetEnv: Record<string, string | undefined> = { ...process.env, [BENCH_ENV.databaseUrl]: databaseUrl, [BENCH_ENV.redisUrl]: redisUrl };
  const profileDir = f.has("profile") ? resolve(f.string("profile", "")) : null;
  if (profileDir) {
    // BUN_OPTIONS is inherited by the supervisor and by every worker it spawns: one profile per process,
    // written when it exits. Bun does not profile piscina threads; profile the enrich work with
    // `bun --cpu-prof dev/bench/enrich.ts` instead (its "direct" pass runs EnrichThread on the main thread).
    mkdirSync(profileDir, { recursive: true });
    fleetEnv.BUN_OPTIONS = `${process.env.BUN_OPTIONS ?? ""} --cpu-prof --cpu-prof-dir=${profileDir}`.trim();
  }
  const fleetCmd = [process.execPath, join(REPO, "workers/topology.ts"), topologyFile, "--max-events", String(events), "--json", "--replicas", String(replicas), "--data-dir", join(tmp, "data")];
  say(`bench ${tag}: ${sustained ? `sustained ${rate}/s` : "max throughput"}, ${events} events of ${payloadBytes} B, ${partitions} partitions, ${replicas} replica(s), kafka ${external ? brokers : `mock ${brokers}`}`);

  const sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
  const producer = benchProducer(kafka, compression);
  let fleet: ReturnType<typeof Bun.spawn> | null = null;
  const watcher = benchWatcher({
    kafka,
    names,
    partitions,
    events,
    onViolation: (what) => {
      say(`INVALID RUN: broker retention deleted unconsumed messages (${what}); stopping`);
      fleet?.kill("SIGTERM");
    },
  });
  let exitCode = 0;
  let report: AuditReport | null = null;
  let timing: RunTiming | null = null;
  let summary: FleetSummary | null = null;
  let fleetExit: number | null = null;
  let cpuSeconds = NaN;
  let maxRssMb = NaN;
  /** The worker whose RSS grew the most over the run (after the first minute, or a tenth of a short run). */
  let rssTrendWorst: (RssTrend & { pid: number }) | null = null;
  let threadCpu: ThreadKindCpu[] = [];
  let gen: GeneratorResult | null = null;
  const logFile = join(tmp, "fleet.log");
  let latencyColumn: "written_at" | "ingested_at" = "ingested_at";
  let redisCpu = NaN;
  /** CPU of this process while the generator produced (its samplers included). */
  let generatorCpu = NaN;
  let serviceCpu: Record<string, number> = {};
  let counters: FleetCounters | null = null;
  const servicePids = (() => {
    try {
      return parseServicePids(f.string("service-pids", ""));
    } catch (e) {
      throw usageError((e as Error).message);
    }
  })();
  // A broker on this machine shares its cores: its CPU per event belongs in the machine's account.
  if (external && !servicePids.has("kafka")) {
    const pid = localBrokerPid(external);
    if (pid !== null) servicePids.set("kafka", [pid]);
  }
  let filterUsed: "bloom" | "bitmap" | null = null;
  let timeline: { workers: WorkerTimeline[]; lines: string[]; steady: Awaited<ReturnType<typeof allAssignedRate>> } | null = null;
  let keptLog = false;
  try {
    // Create the table now (the persist stage's own migration), then give it an insert-time column so
    // latency can be measured to the row write rather than to ingest (see shared/audit/latency.ts).
    latencyColumn = await prepareBenchTable({ sql, table: names.table, migrateCmd: fleetCmd.slice(0, 3), cwd: REPO, env: fleetEnv, say });
    const produce = () => {
      const before = process.cpuUsage();
      return runGenerator({ producer, topic: names.topic, config, key, seed, onProgress: undefined }).then((r) => {
        const used = process.cpuUsage(before);
        generatorCpu = (used.user + used.system) / 1e6;
        gen = r;
        say(`produced ${r.manifest.messages} events in ${(r.elapsedMs / 1000).toFixed(1)} s (${Math.round(r.ratePerSec)}/s)`);
        return r;
      });
    };
    if (!sustained) {
      await produce();
      await watcher.check();
      if (watcher.observed.length) throw new InvalidRun();
    }

    const redisCpuBefore = await redisCpuSeconds(redisUrl).catch(() => NaN);
    const services = await new ServiceCpuSampler(servicePids, sql).start();
    const logFd = openSync(logFile, "w");
    fleet = Bun.spawn(fleetCmd, {
      cwd: REPO,
      env: fleetEnv,
      stdout: "pipe",
      stderr: logFd,
    });
    closeSync(logFd);
    const sampler = new PeakRssSampler(fleet.pid).start(500);
    const scraper = new MetricsScraper(httpPort).start(1000);
    const fleetPid = fleet.pid;
    const threadSampler = new ThreadCpuSampler(() => processTree(fleetPid).map((p) => p.pid)).start(500);
    const stdout = new Response(fleet.stdout as ReadableStream).text();
    const timer = setTimeout(() => {
      say(`timeout after ${Math.round(timeoutMs / 1000)} s: stopping the fleet`);
      fleet?.kill("SIGTERM");
      setTimeout(() => fleet?.kill("SIGKILL"), 30_000).unref();
    }, timeoutMs);
    watcher.start();
    const progress = setInterval(() => say(`  processed (committed) ${watcher.committedTotal} / ${events}`), 5000);
    let producing: Promise<unknown> = Promise.resolve();
    if (sustained) {
      if (!(await waitReady(httpPort, fleet.exited, 120_000))) say("the fleet did not report ready; producing anyway");
      producing = produce();
    }
    fleetExit = await fleet.exited;
    clearTimeout(timer);
    clearInterval(progress);
    await producing;
    redisCpu = (await redisCpuSeconds(redisUrl).catch(() => NaN)) - redisCpuBefore;
    serviceCpu = await services.stop();
    counters = scraper.stop();
    filterUsed = await dedupeFilterUsed(redisUrl, names.prefix).catch(() => null);
    const peaks = sampler.stop();
    threadCpu = threadSampler.stop().filter((t) => t.cpuSeconds >= 0.01);
    await watcher.stop();
    summary = lastJsonLine(await stdout);
    const usage = fleet.resourceUsage();
    cpuSeconds = usage ? Number(usage.cpuTime.total) / 1e6 : NaN;
    // The supervisor's children: a sample taken between fork and exec shows the supervisor's command line.
    const workers = peaks.filter((p) => p.ppid === fleetPid || p.command.includes("worker.ts"));
    for (const w of workers) say(`  worker pid ${w.pid}: peak RSS ${round(w.peakRssBytes / 2 ** 20)} MB, ~${round(w.cpuSeconds, 2)} s CPU at the last sample`);
    maxRssMb = (workers.length ? Math.max(...workers.map((p) => p.peakRssBytes)) : (usage?.maxRSS ?? NaN)) / (1024 * 1024);
    for (const w of workers) {
      const series = sampler.rssSeries(w.pid);
      const span = series.length ? series[series.length - 1][0] : 0;
      const trend = rssTrend(series, Math.min(60_000, span / 10));
      if (trend && (!rssTrendWorst || trend.slopeMbPerMin > rssTrendWorst.slopeMbPerMin)) rssTrendWorst = { ...trend, pid: w.pid };
    }
    if (rssTrendWorst) {
      const t = rssTrendWorst;
      say(`worker RSS over the run (worst worker, pid ${t.pid}, warm-up excluded): ${t.firstQuarterMb} MB in the first quarter, ${t.lastQuarterMb} MB in the last, slope ${t.slopeMbPerMin} MB/min`);
    }
    if (fleetExit !== 0) say(`the fleet exited with code ${fleetExit}; its log: ${logFile}\n${tail(logFile, 15)}`);
    if (watcher.observed.length) throw new InvalidRun();

    const manifest = (gen as GeneratorResult | null)?.manifest;
    if (!manifest) throw new Error("the generator produced no manifest");
    ({ report, timing } = await auditBenchRun({
      sql,
      kafka,
      names,
      partitions,
      manifest,
      duplicatesDropped: summary?.duplicates ?? null,
      reread: summary?.reread ?? 0,
      filtered: summary?.filtered ?? 0,
      observed: watcher.observed,
      latencyColumn,
    }));
    if (f.bool("timeline") && timing.column === "written_at") {
      const workersSeen = parseFleetLog(readFileSync(logFile, "utf8"));
      const steady = await allAssignedRate(sql, names.table, workersSeen);
      const lines = formatTimeline(workersSeen, await partitionSpans(sql, names.table));
      if (steady) lines.push(`  one worker consumed alone for ${(steady.soloMs / 1000).toFixed(1)} s; from when every worker had partitions to the last row: ${steady.eventsPerMin.toLocaleString("en-US")} events/min`);
      timeline = { workers: workersSeen, lines, steady };
    }
    say(formatAudit(report));
    exitCode = report.invalid_run ? 2 : !report.ok || fleetExit !== 0 || summary === null ? 1 : 0;
  } catch (err) {
    if (!(err instanceof InvalidRun)) throw err;
    say(`INVALID RUN: ${watcher.observed.join("; ")} (the mock keeps 100,000 messages / 5 MB per partition: use more --partitions)`);
    exitCode = 2;
  } finally {
    fleet?.kill("SIGKILL");
    await producer.close().catch(() => undefined);
    if (!f.bool("keep")) await cleanupBenchRun({ sql, redisUrl, names, kafka, external: external !== null, say });
    await sql.end();
    await mock?.stop();
    // Keep the topology file and the fleet's log when the fleet ran and something went wrong.
    keptLog = f.bool("keep") || (fleet !== null && exitCode !== 0);
    if (!keptLog) rmSync(tmp, { recursive: true, force: true });
  }

  // Processing window: from the first event entering a worker to the group having committed every event
  // (observed every 200 ms), so fleet start-up is excluded and the final commit included.
  const windowMs = timing?.firstIngestMs != null && watcher.reachedAt !== null ? watcher.reachedAt - timing.firstIngestMs : NaN;
  const perMin = windowMs > 0 ? (events * 60_000) / windowMs : NaN;
  // Every process of the pipeline shares the same cores: the sum of their CPU per event is the machine's
  // price of an event, and cores / price the most this machine could do if nothing else ran.
  const perMillion = (s: number) => s / (events / 1e6);
  // A sustained run's generator produces on the same cores while the fleet works, so it is in the account; a
  // max-throughput run's produced everything before the fleet started.
  const generatorInAccount = sustained && Number.isFinite(generatorCpu) ? generatorCpu : 0;
  const machineSPerMillion =
    perMillion(cpuSeconds) +
    perMillion(Number.isFinite(redisCpu) ? redisCpu : 0) +
    Object.values(serviceCpu).reduce((a, v) => a + perMillion(v), 0) +
    perMillion(generatorInAccount);
  const ceilingPerMin = machineSPerMillion > 0 ? (cpus().length * 60 * 1e6) / machineSPerMillion : NaN;
  if (report && timing) {
    say(
      [
        `throughput: ${Math.round(perMin).toLocaleString("en-US")} events/min over the processing window (first ingest to all committed, ${(windowMs / 1000).toFixed(1)} s, ±0.2 s); ` +
          `${summary ? summary.events_per_min.toLocaleString("en-US") : "?"} events/min wall clock incl. fleet start-up (${summary ? (summary.elapsed_ms / 1000).toFixed(1) : "?"} s)`,
        `latency (event time -> ${timing.column === "written_at" ? "row written" : "ingest"}${sustained ? "" : ", includes the backlog wait of events produced up front"}): p50 ${round(timing.p50Ms)} ms, p95 ${round(timing.p95Ms)} ms, p99 ${round(timing.p99Ms)} ms, max ${round(timing.maxMs)} ms`,
        `cpu by thread kind (fleet, sampled every 0.5 s): ${threadCpu.map((t) => `${t.kind} ${round(t.cpuSeconds, 2)} s`).join(", ")}`,
        `services (CPU over the run): ${Object.entries(serviceCpu).map(([k, v]) => `${k} ${round(v, 2)} s = ${round(v / (events / 1e6), 2)} s per million`).join(", ")}`,
        `fleet counters (last /metrics scrape, up to 1 s before the end): ${counters ? `${counters.batches} batches, ${counters.mean_batch_events} events and ${counters.mean_batch_ms} ms per batch, ${counters.commits} commits, ${counters.persist_conflicts} persist conflicts` : "none scraped"}`,
        `redis: ${filterUsed ?? "?"} filter, ${round(redisCpu, 2)} s server CPU (${round(redisCpu / (events / 1e6), 2)} s per million events; the whole server's)`,
        `generator: ${round(generatorCpu, 2)} s CPU = ${round(perMillion(generatorCpu), 2)} s per million (this process while producing, ` +
          `${sustained ? "on the fleet's cores during the run" : "before the fleet started"})`,
        `machine: ${round(machineSPerMillion, 2)} CPU-s per million events for the fleet and its services together${sustained ? " with the generator" : ""}; ${cpus().length} cores give a ceiling of ` +
          `${Math.round(ceilingPerMin).toLocaleString("en-US")} events/min if nothing else ran (this run: ${Math.round((100 * perMin) / ceilingPerMin)} % of it)`,
        `cpu: ${round(cpuSeconds, 2)} s for the fleet (supervisor + workers; PostgreSQL, Redis and the broker not included), ${round(cpuSeconds / (events / 1e6), 2)} s per million events; max worker RSS ${round(maxRssMb)} MB`,
      ].join("\n"),
    );
  }
  if (timeline) say(["per worker (times from the first engine start / the first row):", ...timeline.lines].join("\n"));
  say(`command: bun dev/bench/e2e.ts ${argv.join(" ")}`);
  if (profileDir) say(`profiles: ${profileDir} (summary: bun dev/bench/profile-summary.ts ${profileDir} --events ${events})`);
  say(`fleet:   bun ${fleetCmd.slice(1).map((a) => a.replace(REPO + "/", "")).join(" ")}  (log: ${keptLog ? logFile : "removed"})`);
  if (json)
    console.log(
      JSON.stringify({
        ...auditedRunFields({ events, perMin, report, exitCode, timing }),
        cpu_s_per_million: round(cpuSeconds / (events / 1e6), 2),
        max_rss_mb: round(maxRssMb),
        rss_trend: rssTrendWorst ? { first_quarter_mb: rssTrendWorst.firstQuarterMb, last_quarter_mb: rssTrendWorst.lastQuarterMb, slope_mb_per_min: rssTrendWorst.slopeMbPerMin } : null,
        cpu_s_per_million_by_thread: Object.fromEntries(threadCpu.map((t) => [t.kind, round(t.cpuSeconds / (events / 1e6), 2)])),
        mode: sustained ? "sustained" : "max",
        events_per_min_wall: summary?.events_per_min ?? null,
        // The fleet's own account of offsets skipped on the broker's side (see docs/guide.md, "Live line and summary").
        deleted_before_read: summary?.deleted_before_read ?? null,
        reset_backward: summary?.reset_backward ?? null,
        reread: summary?.reread ?? null,
        offered_per_s: gen ? round((gen as GeneratorResult).ratePerSec, 0) : null,
        dedupe_filter: filterUsed,
        ...(timeline
          ? {
              workers: timeline.workers.map((w) => ({ worker: w.worker, partitions: w.partitions, events: w.events, changes: w.changes.length })),
              solo_ms: timeline.steady?.soloMs ?? null,
              events_per_min_all_assigned: timeline.steady?.eventsPerMin ?? null,
            }
          : {}),
        redis_cpu_s_per_million: round(redisCpu / (events / 1e6), 2),
        generator_cpu_s_per_million: round(perMillion(generatorCpu), 2),
        fleet_counters: counters,
        machine_cpu_s_per_million: round(machineSPerMillion, 2),
        machine_ceiling_per_min: round(ceilingPerMin, 0),
        service_cpu_s_per_million: Object.fromEntries(Object.entries(serviceCpu).map(([k, v]) => [k, round(v / (events / 1e6), 2)])),
        kafka: external ? "broker" : "mock",
        librdkafka: rdkafkaInfo().version,
        cores: cpus().length,
        load_avg: [round(loadAtStart, 2), round(loadavg()[0], 2)],
        machine_probe_us: probeUs,
      }),
    );
  return exitCode;
}

/** Thrown to unwind when broker retention made the run invalid (exit 2). */
class InvalidRun extends Error {}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, "utf8").trim().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

// Only when run as a command: the docs generator imports this file for USAGE.
if (import.meta.main) runCli(main);
