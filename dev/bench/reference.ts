/**
 * The reference bench of issue #14: the straightforward Node.js pipeline of dev/bench/reference (the card's
 * packages: @confluentinc/kafka-javascript eachBatch, ioredis SET NX, postgres unnest, commit after insert)
 * run end to end exactly the way e2e.ts runs our fleet, so the ratio of the two is measured on the same host
 * and minute rather than quoted from another machine.
 *
 * Same generator and events (produced up front to a fresh topic), a table of the product's own shape and
 * primary key (the persist stage's migration), N reference processes in one consumer group, the processing
 * window from the first ingest to the group having committed every event, and the same exact audit (rows vs
 * manifest, the dead-letter topic, duplicates dropped, retention). Install the reference first:
 * `bash dev/bench/reference/setup.sh`.
 *
 * Exit codes: 0 pass, 1 audit failed (or a reference process failed), 2 invalid run or usage error,
 * 3 the reference pipeline is not installed.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import postgres from "postgres";
import { formatAudit, type AuditReport, type RunTiming } from "../../shared/audit/index.ts";
import { runCli, usageError, GENERATOR_FLAG_SPEC, generatorConfigFromFlags } from "../../shared/loadgen/cli-flags.ts";
import { benchTopologyYaml, BENCH_ENV } from "../../shared/loadgen/bench-topology.ts";
import { KEY_MODES, newRunId, runGenerator, type GeneratorResult } from "../../shared/loadgen/index.ts";
import {
  auditBenchRun,
  auditedRunFields,
  benchCli,
  benchPartitions,
  benchProducer,
  benchWatcher,
  cleanupBenchRun,
  localBrokerPid,
  openBenchKafka,
  prepareBenchTable,
  round,
  type BenchNames,
} from "./bench-run.ts";
import { ThreadCpuSampler, type ThreadKindCpu } from "./thread-cpu.ts";
import { redisCpuSeconds } from "./redis-side.ts";
import { ServiceCpuSampler } from "./service-cpu.ts";
import { machineProbeUs } from "./machine-probe.ts";

const REPO = resolve(import.meta.dir, "../..");
/** The reference pipeline's folder (its own package.json and lockfile; Node.js, not Bun). */
export const REFERENCE_DIR = join(REPO, "dev/bench/reference");
/** The file whose presence means `bash dev/bench/reference/setup.sh` completed. */
export const REFERENCE_STAMP = join(REFERENCE_DIR, "node_modules/.topofleet-reference-stamp");

/** The --help text. */
export const USAGE = `Usage: bun dev/bench/reference.ts [flags]

The Node.js reference pipeline of issue #14 (dev/bench/reference: @confluentinc/kafka-javascript eachBatch,
ioredis SET NX dedupe, postgres unnest insert, commit after insert) end to end with the same events, window
and audit as bun dev/bench/e2e.ts. Install it first: bash dev/bench/reference/setup.sh (node >= 20 on PATH).
Kafka: $KAFKA_BROKERS, else an in-process mock cluster. PostgreSQL: $DATABASE_URL
(default postgres://postgres@127.0.0.1:5432/test). Redis: $REDIS_URL (default redis://127.0.0.1:6379).

  --events N            produce N events up front, then process them (default 200000)
  --replicas N          reference processes in one consumer group (default 1)
  --batch N             js.consumer.max.batch.size: events per eachBatch (default 5000; the package's own is 32)
  --concurrency N       partitionsConsumedConcurrently per process (default 1, the package's default)
  --partitions N        source partitions (default 8)
  --size, --tenants, --dup-ratio, --invalid-ratio, --binary-ratio, --key, --compression, --seed: as e2e.ts
  --timeout D           give up after D (default 10m)
  --keep                keep the table, topics and Redis keys
  --profile DIR         write a .cpuprofile per Node process into DIR (node --cpu-prof; written on exit)
  --json                last stdout line: {"events","events_per_min","lost","duplicated","duplicates_dropped",
                        "invalid","audit","mode" ("reference", for compare.ts),"p50_ms","p95_ms","p99_ms","cpu_s_per_million" (the Node processes),
                        "cpu_s_per_million_by_thread","redis_cpu_s_per_million","service_cpu_s_per_million",
                        "machine_cpu_s_per_million","kafka","cores","load_avg","machine_probe_us","replicas",
                        "batch","concurrency","node"}
  -h, --help

Exit codes: 0 pass, 1 audit failed or a reference process failed, 2 invalid run or usage error, 3 not installed.
`;

const SPEC = {
  ...GENERATOR_FLAG_SPEC,
  replicas: { type: "string" },
  batch: { type: "string" },
  concurrency: { type: "string" },
  timeout: { type: "string" },
  keep: { type: "boolean" },
  profile: { type: "string" },
} as const;

/** What one reference process prints on SIGTERM (dev/bench/reference/pipeline.js). */
interface ProcessCounts {
  consumed: number;
  inserted: number;
  duplicates: number;
  dead_lettered: number;
  batches: number;
}

async function main(): Promise<number> {
  const argv = Bun.argv.slice(2);
  const cli = benchCli(argv, SPEC, USAGE);
  if (!cli) return 0;
  const { f, json, say } = cli;
  if (f.has("rate") || f.has("duration")) throw usageError("the reference bench has no sustained mode: use --events");
  const node = Bun.which("node");
  if (!node || !(await Bun.file(REFERENCE_STAMP).exists())) {
    say(`the reference pipeline is not installed: run bash dev/bench/reference/setup.sh${node ? "" : " (and put node >= 20 on PATH)"}`);
    return 3;
  }
  const events = f.int("events", 200_000, 1);
  const config = generatorConfigFromFlags(f, 0, events);
  const key = f.oneOf("key", KEY_MODES, "id");
  const compression = f.oneOf("compression", ["none", "gzip", "snappy", "lz4", "zstd"] as const, "none");
  const replicas = f.int("replicas", 1, 1);
  const maxBatch = f.int("batch", 5000, 1);
  const concurrency = f.int("concurrency", 1, 1);
  const timeoutMs = f.duration("timeout", 10 * 60_000)!;
  const seed = f.int("seed", null, 0) ?? undefined;
  const loadAtStart = loadavg()[0];
  const probeUs = machineProbeUs();
  const nodeVersion = Bun.spawnSync([node, "--version"]).stdout.toString().trim();

  const tag = newRunId().toLowerCase();
  const names: BenchNames = { topic: `ref-${tag}`, dlq: `ref-${tag}.dlq`, group: `ref-${tag}`, table: `ref_${tag}`, prefix: `tf:ref:${tag}` };
  const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  const external = process.env.KAFKA_BROKERS || null;
  const explicit = f.has("partitions") ? f.int("partitions", 8, 1) : null;
  const { partitions, dlqPartitions } = benchPartitions({ external: external !== null, events, payloadBytes: config.payloadBytes, invalidRatio: config.invalidRatio, explicit, say });
  const { brokers, mock, kafka } = await openBenchKafka({ external, names, partitions, dlqPartitions });
  say(`reference ${tag}: ${events} events of ${config.payloadBytes} B, ${partitions} partitions, ${replicas} Node process(es) (${nodeVersion}), batch ${maxBatch}, concurrency ${concurrency}, kafka ${external ? brokers : `mock ${brokers}`}`);

  const tmp = mkdtempSync(join(tmpdir(), "tf-ref-"));
  // The product's migration creates the table (same columns, primary key and day partitions as ours).
  const topologyFile = join(tmp, "table.yaml");
  await Bun.write(
    topologyFile,
    benchTopologyYaml({
      name: `ref-${tag}`,
      brokers,
      topic: names.topic,
      deadLetterTopic: names.dlq,
      group: names.group,
      table: names.table,
      redisPrefix: names.prefix,
      expectedEvents: events,
      replicas,
      threads: null,
      batch: null,
      connections: null,
      inFlightBatches: null,
      httpPort: 0,
    }),
  );
  const sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
  const producer = benchProducer(kafka, compression);
  const procs: Array<ReturnType<typeof Bun.spawn>> = [];
  const stopAll = () => procs.forEach((p) => p.kill("SIGTERM"));
  const watcher = benchWatcher({
    kafka,
    names,
    partitions,
    events,
    onViolation: (what) => {
      say(`INVALID RUN: broker retention deleted unconsumed messages (${what}); stopping`);
      stopAll();
    },
  });
  const servicePids = new Map<string, number[]>();
  const kafkaPid = external ? localBrokerPid(external) : null;
  if (kafkaPid !== null) servicePids.set("kafka", [kafkaPid]);

  let exitCode = 0;
  let report: AuditReport | null = null;
  let timing: RunTiming | null = null;
  let gen: GeneratorResult | null = null;
  let cpuSeconds = NaN;
  let threadCpu: ThreadKindCpu[] = [];
  let redisCpu = NaN;
  let serviceCpu: Record<string, number> = {};
  const counts: ProcessCounts[] = [];
  let failed = false;
  const logFile = join(tmp, "reference.log");
  try {
    const latencyColumn = await prepareBenchTable({
      sql,
      table: names.table,
      migrateCmd: [process.execPath, join(REPO, "workers/topology.ts"), topologyFile],
      cwd: REPO,
      env: { ...process.env, [BENCH_ENV.databaseUrl]: databaseUrl, [BENCH_ENV.redisUrl]: redisUrl },
      say,
    });
    gen = await runGenerator({ producer, topic: names.topic, config, key, seed, onProgress: undefined });
    say(`produced ${gen.manifest.messages} events in ${(gen.elapsedMs / 1000).toFixed(1)} s (${Math.round(gen.ratePerSec)}/s)`);
    await watcher.check();
    if (watcher.observed.length) throw new InvalidRun();

    const redisCpuBefore = await redisCpuSeconds(redisUrl).catch(() => NaN);
    const services = await new ServiceCpuSampler(servicePids, sql).start();
    const env = {
      ...process.env,
      REFERENCE_CONFIG: JSON.stringify({ brokers, ...names, deadLetterTopic: names.dlq, redisPrefix: names.prefix, redisUrl, databaseUrl, maxBatch, concurrency }),
    };
    const profile = f.has("profile") ? ["--cpu-prof", `--cpu-prof-dir=${resolve(f.string("profile", ""))}`] : [];
    const logFd = openSync(logFile, "w");
    for (let i = 0; i < replicas; i++)
      procs.push(Bun.spawn([node, ...profile, join(REFERENCE_DIR, "pipeline.js")], { cwd: REFERENCE_DIR, env, stdout: "pipe", stderr: logFd }));
    closeSync(logFd);
    const threadSampler = new ThreadCpuSampler(() => procs.map((p) => p.pid)).start(500);
    const outputs = procs.map((p) => new Response(p.stdout as ReadableStream).text());
    watcher.start();
    const deadline = performance.now() + timeoutMs;
    let lastSay = performance.now();
    // The processes never stop by themselves: done is the group having committed every event.
    while (watcher.reachedAt === null && !watcher.observed.length && performance.now() < deadline && procs.every((p) => p.exitCode === null)) {
      await Bun.sleep(100);
      if (performance.now() - lastSay > 5000) {
        lastSay = performance.now();
        say(`  processed (committed) ${watcher.committedTotal} / ${events}`);
      }
    }
    if (watcher.reachedAt === null) {
      failed = true;
      say(performance.now() >= deadline ? `timeout after ${Math.round(timeoutMs / 1000)} s` : "a reference process exited early");
    }
    stopAll();
    const killer = setTimeout(() => procs.forEach((p) => p.kill("SIGKILL")), 30_000);
    const exits = await Promise.all(procs.map((p) => p.exited));
    clearTimeout(killer);
    redisCpu = (await redisCpuSeconds(redisUrl).catch(() => NaN)) - redisCpuBefore;
    serviceCpu = await services.stop();
    threadCpu = threadSampler.stop().filter((t) => t.cpuSeconds >= 0.01);
    await watcher.stop();
    cpuSeconds = procs.reduce((s, p) => s + Number(p.resourceUsage()?.cpuTime.total ?? NaN) / 1e6, 0);
    for (const [i, out] of (await Promise.all(outputs)).entries()) {
      const line = out.trim().split("\n").at(-1) ?? "";
      try {
        counts.push(JSON.parse(line) as ProcessCounts);
      } catch {
        failed = true;
        say(`reference process ${procs[i].pid} exited ${exits[i]} without its counts`);
      }
    }
    if (failed || exits.some((c) => c !== 0)) say(`reference log: ${logFile}\n${readFileSync(logFile, "utf8").trim().split("\n").slice(-15).join("\n")}`);
    if (watcher.observed.length) throw new InvalidRun();

    const duplicatesDropped = counts.length === replicas ? counts.reduce((n, c) => n + c.duplicates, 0) : null;
    ({ report, timing } = await auditBenchRun({
      sql,
      kafka,
      names,
      partitions,
      manifest: gen.manifest,
      duplicatesDropped,
      filtered: 0,
      observed: watcher.observed,
      latencyColumn,
    }));
    say(formatAudit(report));
    exitCode = report.invalid_run ? 2 : !report.ok || failed ? 1 : 0;
  } catch (err) {
    if (!(err instanceof InvalidRun)) throw err;
    say(`INVALID RUN: ${watcher.observed.join("; ")}`);
    exitCode = 2;
  } finally {
    procs.forEach((p) => p.kill("SIGKILL"));
    await producer.close().catch(() => undefined);
    if (!f.bool("keep")) await cleanupBenchRun({ sql, redisUrl, names, kafka, external: external !== null, say });
    await sql.end();
    await mock?.stop();
    if (!f.bool("keep") && exitCode === 0) rmSync(tmp, { recursive: true, force: true });
  }

  // The same window as e2e.ts: first event ingested to the group having committed every event.
  const windowMs = timing?.firstIngestMs != null && watcher.reachedAt !== null ? watcher.reachedAt - timing.firstIngestMs : NaN;
  const perMin = windowMs > 0 ? (events * 60_000) / windowMs : NaN;
  const perMillion = (s: number) => s / (events / 1e6);
  const machineSPerMillion =
    perMillion(cpuSeconds) + perMillion(Number.isFinite(redisCpu) ? redisCpu : 0) + Object.values(serviceCpu).reduce((a, v) => a + perMillion(v), 0);
  if (report && timing) {
    say(
      [
        `throughput: ${Math.round(perMin).toLocaleString("en-US")} events/min over the processing window (first ingest to all committed, ${(windowMs / 1000).toFixed(1)} s, ±0.2 s)`,
        `latency (event time -> ${timing.column === "written_at" ? "row written" : "ingest"}, includes the backlog wait): p50 ${round(timing.p50Ms)} ms, p95 ${round(timing.p95Ms)} ms, p99 ${round(timing.p99Ms)} ms`,
        `cpu: ${round(cpuSeconds, 2)} s for the Node processes, ${round(perMillion(cpuSeconds), 2)} s per million events; by thread kind: ${threadCpu.map((t) => `${t.kind} ${round(t.cpuSeconds, 2)} s`).join(", ")}`,
        `services: redis ${round(perMillion(redisCpu), 2)} s per million (the whole server's)${Object.entries(serviceCpu).map(([k, v]) => `, ${k} ${round(perMillion(v), 2)}`).join("")}; machine ${round(machineSPerMillion, 2)} CPU-s per million`,
      ].join("\n"),
    );
  }
  say(`command: bun dev/bench/reference.ts ${argv.join(" ")}`);
  if (json)
    console.log(
      JSON.stringify({
        ...auditedRunFields({ events, perMin, report, exitCode, timing }),
        mode: "reference",
        failures: report?.failures.map((x) => x.field) ?? null,
        cpu_s_per_million: round(perMillion(cpuSeconds), 2),
        cpu_s_per_million_by_thread: Object.fromEntries(threadCpu.map((t) => [t.kind, round(perMillion(t.cpuSeconds), 2)])),
        redis_cpu_s_per_million: round(perMillion(redisCpu), 2),
        service_cpu_s_per_million: Object.fromEntries(Object.entries(serviceCpu).map(([k, v]) => [k, round(perMillion(v), 2)])),
        machine_cpu_s_per_million: round(machineSPerMillion, 2),
        kafka: external ? "broker" : "mock",
        cores: cpus().length,
        load_avg: [round(loadAtStart, 2), round(loadavg()[0], 2)],
        machine_probe_us: probeUs,
        replicas,
        batch: maxBatch,
        concurrency,
        node: nodeVersion,
      }),
    );
  return exitCode;
}

/** Thrown to unwind when broker retention made the run invalid (exit 2). */
class InvalidRun extends Error {}

if (import.meta.main) runCli(main);
