/**
 * `bun dev/bench/recovery.ts`: what a `kill -9` of one worker costs, on a real broker.
 *
 * A 2-worker fleet consumes a sustained stream (default 12,000 events/s for 40 s); some seconds in, the
 * worker of slot 0 is SIGKILLed. From then on the group's committed offsets are read every 100 ms:
 *   - recovery: seconds from the kill until every partition the killed worker owned has committed again;
 *   - processed twice: rows the killed worker had written past its partitions' committed offsets (those
 *     events are read and written again by the next owner; the table keeps one row each), per partition,
 *     against one batch (batch.maxEvents);
 *   - the survivors' longest commit pause in the recovery window, and whether any partition moved;
 * then the fleet finishes its --max-events, and the standard audit checks the table and the DLQ (lost 0,
 * duplicated 0, every injected duplicate and invalid event accounted for).
 *
 * Exit codes: 0 pass (audit passed, recovery under --target), 1 fail, 2 usage error.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import postgres from "postgres";
import { audit, formatAudit, readDeadLetterTopic } from "../../shared/audit/index.ts";
import { Admin, Consumer, Producer, type KafkaConfig } from "../../shared/kafka/index.ts";
import { benchTopologyYaml, BENCH_ENV } from "../../shared/loadgen/bench-topology.ts";
import { Flags, GENERATOR_FLAG_SPEC, generatorConfigFromFlags, parseFlags, runCli, usageError } from "../../shared/loadgen/cli-flags.ts";
import { newRunId, runGenerator, type GeneratorResult } from "../../shared/loadgen/index.ts";
import { deleteRedisPrefix } from "../../shared/loadgen/redis-cleanup.ts";
import { watermarksOf } from "../../shared/topic-reader/metadata.ts";
import { freePort } from "../support/net.ts";

const REPO = resolve(import.meta.dir, "../..");

/** The --help text (also in docs/reference/cli.md). */
export const USAGE = `Usage: KAFKA_BROKERS=host:port bun dev/bench/recovery.ts [flags]

Kills one of two workers with SIGKILL mid-run on a real broker and measures recovery (see the file's doc).
PostgreSQL: $DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test); Redis: $REDIS_URL.

  --rate R          events/s (default 12000)       --duration D   produce for D (default 40s)
  --kill-after D    kill this long after producing started (default 15s)
  --partitions N    source partitions (default 8)  --batch N      batch.maxEvents (default: topology default 5000)
  --target D        recovery target (default 10s)  --keep         keep topic, table, keys and the fleet log
  --json            last stdout line: the figures as JSON
`;
const SPEC = { ...GENERATOR_FLAG_SPEC, "kill-after": { type: "string" }, batch: { type: "string" }, target: { type: "string" }, keep: { type: "boolean" } } as const;
const DEFAULT_BATCH = 5000;

interface LogLine {
  /** Epoch ms (pino's ISO time parsed). */
  time: number;
  pid?: number;
  worker?: number;
  msg?: string;
  partitions?: Array<{ topic: string; partition: number }>;
}

/** The fleet's JSON log lines so far. */
function readLog(file: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const l = JSON.parse(line);
      out.push({ ...l, time: typeof l.time === "string" ? Date.parse(l.time) : l.time });
    } catch {
      // a line being written
    }
  }
  return out;
}

/** Partitions a worker process owns per its assignment log lines (cooperative: incremental). */
function ownedBy(log: LogLine[], pid: number): Set<number> {
  const owned = new Set<number>();
  for (const l of log) {
    if (l.pid !== pid) continue;
    if (l.msg === "partitions assigned") for (const p of l.partitions ?? []) owned.add(p.partition);
    if (l.msg === "partitions revoked") for (const p of l.partitions ?? []) owned.delete(p.partition);
  }
  return owned;
}

async function main(): Promise<number> {
  const argv = Bun.argv.slice(2);
  const f = new Flags(parseFlags(argv, SPEC).values);
  if (f.bool("help")) return (console.log(USAGE), 0);
  const brokers = process.env.KAFKA_BROKERS;
  if (!brokers) throw usageError("set KAFKA_BROKERS to a real broker: recovery after kill -9 is a property of real group membership");
  const json = f.bool("json");
  const say = json ? (s: string) => console.error(s) : (s: string) => console.log(s);
  const rate = f.number("rate", 12_000, 1);
  const durationMs = f.duration("duration", 40_000)!;
  const killAfterMs = f.duration("kill-after", 15_000)!;
  const targetMs = f.duration("target", 10_000)!;
  const partitions = f.int("partitions", 8, 1);
  const batch = f.int("batch", null, 1);
  const events = Math.round((rate * durationMs) / 1000);
  const config = generatorConfigFromFlags(f, rate, events);
  const tag = newRunId().toLowerCase();
  const names = { pipeline: `recovery-${tag}`, topic: `recovery-${tag}`, dlq: `recovery-${tag}.dlq`, group: `recovery-${tag}`, table: `recovery_${tag}`, prefix: `tf:recovery:${tag}` };
  const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  const kafka: KafkaConfig = { "bootstrap.servers": brokers };
  const tmp = mkdtempSync(join(tmpdir(), "tf-recovery-"));
  const admin = new Admin({ config: kafka });
  await admin.createTopics([{ name: names.topic, partitions }, { name: names.dlq, partitions: 1 }]);
  const topologyFile = join(tmp, "recovery.yaml");
  await Bun.write(
    topologyFile,
    benchTopologyYaml({
      name: names.pipeline, brokers, topic: names.topic, deadLetterTopic: names.dlq, group: names.group, table: names.table,
      redisPrefix: names.prefix, expectedEvents: events, replicas: 2, threads: null, batch, connections: null, inFlightBatches: null,
      httpPort: await freePort(), logLevel: "info",
    }),
  );
  const env = { ...process.env, [BENCH_ENV.databaseUrl]: databaseUrl, [BENCH_ENV.redisUrl]: redisUrl };
  const fleetCmd = [process.execPath, join(REPO, "workers/topology.ts"), topologyFile, "--max-events", String(events), "--json", "--replicas", "2", "--data-dir", join(tmp, "data")];
  const sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
  const producer = new Producer({ config: { ...kafka, "enable.idempotence": "true", "linger.ms": "5" } });
  const offsets = new Consumer({ config: { ...kafka, "group.id": names.group } });
  const logFile = join(tmp, "fleet.log");
  const tps = Array.from({ length: partitions }, (_, partition) => ({ topic: names.topic, partition }));
  let fleet: ReturnType<typeof Bun.spawn> | null = null;
  let ok = false;
  try {
    const migrate = Bun.spawnSync([...fleetCmd.slice(0, 3), "--migrate"], { cwd: REPO, env, stdout: "pipe", stderr: "pipe" });
    if (migrate.exitCode !== 0) throw new Error(`migration failed: ${migrate.stderr.toString().trim().split("\n").at(-1)}`);
    const fd = openSync(logFile, "w");
    fleet = Bun.spawn(fleetCmd, { cwd: REPO, env, stdout: "pipe", stderr: fd });
    closeSync(fd);
    const stdout = new Response(fleet.stdout as ReadableStream).text();
    // Both workers assigned before producing starts.
    for (let i = 0; i < 600 && readLog(logFile).filter((l) => l.msg === "partitions assigned").length < 2; i++) await Bun.sleep(100);
    say(`recovery ${tag}: ${rate} events/s for ${durationMs / 1000} s into ${partitions} partitions, 2 workers, kafka ${brokers}; kill -9 of worker 0 after ${killAfterMs / 1000} s`);
    let gen: GeneratorResult | null = null;
    const producing = runGenerator({ producer, topic: names.topic, config, key: "id" }).then((r) => (gen = r));
    await Bun.sleep(killAfterMs);

    const before = readLog(logFile);
    const spawned = before.filter((l) => l.msg === "worker spawned" && l.worker === 0).at(-1);
    if (!spawned?.pid) throw new Error("no spawn of worker 0 in the fleet log");
    const victim = spawned.pid;
    const killed = [...ownedBy(before, victim)].sort((a, b) => a - b);
    const survivorPid = before.filter((l) => l.msg === "worker spawned" && l.worker === 1).at(-1)?.pid;
    const survivorOwned = survivorPid ? [...ownedBy(before, survivorPid)].sort((a, b) => a - b) : [];
    process.kill(victim, "SIGKILL");
    const t0 = Date.now();
    say(`killed worker 0 (pid ${victim}) owning partitions [${killed.join(", ")}]; worker 1 owns [${survivorOwned.join(", ")}]`);
    // Its last commits and row writes are settled once the process is gone; the replacement is not up yet.
    await Bun.sleep(300);
    const atKill = new Map((await offsets.committed(tps)).map((c) => [c.partition, c.offset]));
    const twice = new Map<number, number>();
    for (const p of killed) {
      const from = Math.max(0, atKill.get(p) ?? 0);
      const [{ n }] = await sql`SELECT count(*)::int AS n FROM ${sql(names.table)} WHERE kafka_partition = ${p} AND kafka_offset >= ${from}`;
      twice.set(p, n);
    }
    // Commit times per partition until every killed partition moved on (or 60 s).
    const recoveredAt = new Map<number, number>();
    const lastAdvance = new Map<number, { offset: number; at: number }>(tps.map((tp) => [tp.partition, { offset: atKill.get(tp.partition) ?? -1, at: t0 }]));
    let survivorPauseMs = 0;
    while (recoveredAt.size < killed.length && Date.now() - t0 < 60_000) {
      await Bun.sleep(100);
      const now = Date.now();
      for (const c of await offsets.committed(tps)) {
        const last = lastAdvance.get(c.partition)!;
        if (c.offset > last.offset) {
          if (!killed.includes(c.partition)) survivorPauseMs = Math.max(survivorPauseMs, now - last.at);
          lastAdvance.set(c.partition, { offset: c.offset, at: now });
          if (killed.includes(c.partition) && !recoveredAt.has(c.partition)) recoveredAt.set(c.partition, now - t0);
        }
      }
    }
    const recoveryMs = recoveredAt.size === killed.length ? Math.max(...recoveredAt.values()) : NaN;
    await producing;
    const code = await fleet.exited;
    const summary = (await stdout).trim().split("\n").at(-1) ?? "";
    // From the kill to the fleet's stop (whose drain revokes everything).
    const log = readLog(logFile);
    const stopAt = log.find((l) => l.msg === "stopping the fleet")?.time ?? Infinity;
    const after = log.filter((l) => l.time >= t0 && l.time < stopAt);
    const respawn = after.find((l) => l.msg === "worker spawned" && l.worker === 0);
    const replacement = respawn?.pid;
    const firstAssign = after.find((l) => l.msg === "partitions assigned" && l.pid === replacement);
    const retaken = replacement ? [...ownedBy(after, replacement)].sort((a, b) => a - b) : [];
    const survivorMoves = after.filter((l) => l.pid === survivorPid && (l.msg === "partitions assigned" || l.msg === "partitions revoked"));

    const manifest = (gen as GeneratorResult | null)?.manifest;
    if (!manifest) throw new Error("the generator produced no manifest");
    const dlq = await readDeadLetterTopic({ config: kafka, topic: names.dlq, runId: manifest.runId });
    const source = await watermarksOf(offsets, names.topic, tps.map((t) => t.partition));
    let dropped: number | null = null;
    try {
      dropped = (JSON.parse(summary) as { duplicates: number }).duplicates;
    } catch {
      say(`the fleet printed no JSON summary (exit ${code})`);
    }
    const report = await audit({ sql, table: names.table, manifest, deadLetters: dlq.tally, duplicatesDropped: dropped, retention: { source, deadLetter: dlq.watermarks, observed: [] }, sourceIsFresh: true });
    say(formatAudit(report));
    const batchEvents = batch ?? DEFAULT_BATCH;
    const twiceTotal = [...twice.values()].reduce((a, b) => a + b, 0);
    const twiceMax = Math.max(0, ...twice.values());
    const s = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : "never");
    say(
      [
        `restart: worker 0 respawned ${respawn ? s(respawn.time - t0) : "never"} after the kill, assigned ${firstAssign ? s(firstAssign.time - t0) : "never"} after it` +
          ` (partitions [${retaken.join(", ")}]: ${retaken.join() === killed.join() ? "the same, taken back as the same static member" : "NOT the same"})`,
        `recovery: the killed worker's partitions committed again ${s(recoveryMs)} after the kill (per partition: ${killed.map((p) => `${p}: ${s(recoveredAt.get(p) ?? NaN)}`).join(", ")}); target ${s(targetMs)}`,
        `processed twice: ${twiceTotal} events (rows written past the committed offsets), per partition max ${twiceMax} (${killed.map((p) => `${p}: ${twice.get(p)}`).join(", ")}); one batch is at most ${batchEvents} events`,
        `survivor: longest commit pause in the recovery window ${s(survivorPauseMs)}; assignment changes after the kill: ${survivorMoves.length}`,
        `fleet exit ${code}; summary ${summary}`,
        `command: KAFKA_BROKERS=${brokers} bun dev/bench/recovery.ts ${argv.join(" ")}`,
      ].join("\n"),
    );
    ok = report.ok && code === 0 && recoveryMs <= targetMs && twiceMax <= batchEvents && retaken.join() === killed.join();
    if (json)
      console.log(
        JSON.stringify({
          recovery_s: Number.isFinite(recoveryMs) ? recoveryMs / 1000 : null,
          respawn_s: respawn ? (respawn.time - t0) / 1000 : null,
          reassigned_s: firstAssign ? (firstAssign.time - t0) / 1000 : null,
          processed_twice: twiceTotal,
          processed_twice_max_per_partition: twiceMax,
          batch_events: batchEvents,
          sticky: retaken.join() === killed.join() && survivorMoves.length === 0,
          survivor_pause_s: survivorPauseMs / 1000,
          audit: report.ok ? "pass" : "fail",
          lost: report.lost,
          duplicated: report.duplicated,
          pass: ok,
        }),
      );
  } finally {
    fleet?.kill("SIGKILL");
    await offsets.close().catch(() => undefined);
    await producer.close().catch(() => undefined);
    if (!f.bool("keep")) {
      await sql`DROP TABLE IF EXISTS ${sql(names.table)} CASCADE`.catch(() => undefined);
      await deleteRedisPrefix(redisUrl, names.prefix).catch(() => undefined);
      await admin.deleteTopics([names.topic, names.dlq]).catch(() => undefined);
    }
    await admin.close();
    await sql.end();
    if (ok && !f.bool("keep")) rmSync(tmp, { recursive: true, force: true });
    else say(`fleet log: ${logFile}`);
  }
  return ok ? 0 : 1;
}

// Only when run as a command: the docs generator imports this file for USAGE.
if (import.meta.main) runCli(main);
