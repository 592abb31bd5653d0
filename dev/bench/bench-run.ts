/**
 * The steps every end-to-end bench takes around the pipeline it measures, whatever that pipeline is (our
 * fleet in e2e.ts, the Node.js reference pipeline in reference.ts): a fresh table of the product's own shape
 * with a `written_at` column for latency, the audit of the run against the generator's manifest, and the
 * clean-up of the run's table, Redis keys and topics. Sharing them is what makes the two benches' figures and
 * verdicts comparable.
 */
import type { Sql } from "postgres";
import { Admin, Consumer, MockCluster, Producer, mockPartitionsFor, type KafkaConfig } from "../../shared/kafka/index.ts";
import { audit, readDeadLetterTopic, RetentionWatcher, runTiming, type AuditReport, type RunTiming } from "../../shared/audit/index.ts";
import type { LoadgenManifest } from "../../shared/loadgen/manifest.ts";
import { GENERATOR_PRODUCER_CONFIG } from "../../shared/loadgen/generator.ts";
import { deleteRedisPrefix } from "../../shared/loadgen/redis-cleanup.ts";
import { watermarksOf } from "../../shared/topic-reader/metadata.ts";
import { localListenerPid } from "./service-cpu.ts";
import { Flags, parseFlags, type FlagSpec } from "../../shared/loadgen/cli-flags.ts";

/** `n` rounded to `d` decimals, or null when it is not finite (JSON has no NaN). */
export const round = (n: number, d = 1): number | null => (Number.isFinite(n) ? Math.round(n * 10 ** d) / 10 ** d : null);

/** The audit and latency fields every end-to-end bench prints first in its --json line, the same way. */
export function auditedRunFields(o: { events: number; perMin: number; report: AuditReport | null; exitCode: number; timing: RunTiming | null }): Record<string, unknown> {
  const { report, timing } = o;
  return {
    events: o.events,
    events_per_min: round(o.perMin, 0),
    lost: report?.lost ?? null,
    duplicated: report?.duplicated ?? null,
    duplicates_dropped: report?.duplicates_dropped ?? null,
    invalid: report?.dead_lettered ?? null,
    audit: report ? (report.invalid_run ? "invalid" : report.ok ? "pass" : "fail") : o.exitCode === 2 ? "invalid" : "none",
    p50_ms: round(timing?.p50Ms ?? NaN),
    p95_ms: round(timing?.p95Ms ?? NaN),
    p99_ms: round(timing?.p99Ms ?? NaN),
  };
}

/**
 * A bench's command line: its flags, whether the figures go to stdout as JSON, and `say` for progress lines
 * (stderr under --json, so stdout stays parseable). Null after printing `usage` for --help.
 */
export function benchCli(argv: readonly string[], spec: FlagSpec, usage: string): { f: Flags; json: boolean; say: (s: string) => void } | null {
  const f = new Flags(parseFlags(argv, spec).values);
  if (f.bool("help")) {
    console.log(usage);
    return null;
  }
  const json = f.bool("json");
  return { f, json, say: json ? (s: string) => console.error(s) : (s: string) => console.log(s) };
}

/** The per-run names (fresh every run) a bench needs for its audit and clean-up. */
export interface BenchNames {
  topic: string;
  dlq: string;
  group: string;
  table: string;
  prefix: string;
}

/** Envelope + headers on top of the payload, for partition sizing on the mock. */
const RECORD_OVERHEAD_BYTES = 320;

/**
 * Source and dead-letter partitions for a run. On the mock (no external broker) the default holds the whole
 * run; an explicit count is honoured (to see the retention check turn a too-small topic into an invalid run)
 * with a warning. A real broker gets `explicit ?? 8` and one DLQ partition.
 */
export function benchPartitions(o: {
  external: boolean;
  events: number;
  payloadBytes: number;
  invalidRatio: number;
  explicit: number | null;
  say: (s: string) => void;
}): { partitions: number; dlqPartitions: number } {
  const recordBytes = o.payloadBytes + RECORD_OVERHEAD_BYTES;
  const needed = o.external ? 1 : mockPartitionsFor(o.events, recordBytes);
  const partitions = o.explicit ?? Math.max(8, needed);
  if (partitions < needed) o.say(`warning: ${partitions} mock partitions cannot hold ${o.events} events (${needed} needed): expect an invalid run`);
  const dlqPartitions = o.external ? 1 : mockPartitionsFor(Math.ceil(o.events * o.invalidRatio * 1.5) + 1, recordBytes + 400);
  return { partitions, dlqPartitions };
}

/** Creates the run's topics on the external broker, or starts a mock cluster that has them. */
export async function openBenchKafka(o: {
  external: string | null;
  names: BenchNames;
  partitions: number;
  dlqPartitions: number;
}): Promise<{ brokers: string; mock: MockCluster | null; kafka: KafkaConfig }> {
  const topics = [
    { name: o.names.topic, partitions: o.partitions },
    { name: o.names.dlq, partitions: o.dlqPartitions },
  ];
  if (o.external) {
    const admin = new Admin({ config: { "bootstrap.servers": o.external } });
    await admin.createTopics(topics);
    await admin.close();
    return { brokers: o.external, mock: null, kafka: { "bootstrap.servers": o.external } };
  }
  const mock = await MockCluster.start({ brokers: 1, topics });
  return { brokers: mock.bootstraps, mock, kafka: { "bootstrap.servers": mock.bootstraps } };
}

/** The generator's producer (GENERATOR_PRODUCER_CONFIG). */
export function benchProducer(kafka: KafkaConfig, compression: string): Producer {
  return new Producer({ config: { ...kafka, ...GENERATOR_PRODUCER_CONFIG, "compression.type": compression } });
}

/**
 * Watches the group's committed offsets (the end of the processing window: `reachedAt`) and the source's low
 * watermarks every 200 ms; `onViolation` runs when retention deleted messages before they were read.
 */
export function benchWatcher(o: { kafka: KafkaConfig; names: BenchNames; partitions: number; events: number; onViolation: (what: string) => void }): RetentionWatcher {
  return new RetentionWatcher({
    config: o.kafka,
    topic: o.names.topic,
    group: o.names.group,
    partitions: Array.from({ length: o.partitions }, (_, i) => i),
    intervalMs: 200,
    target: o.events,
    onViolation: o.onViolation,
  });
}

/** The pid of a broker listening on this machine at the first of `brokers` (its CPU belongs in the machine's account). */
export function localBrokerPid(brokers: string): number | null {
  const local = /^(127\.0\.0\.1|localhost|\[::1\]):(\d+)$/.exec(brokers.split(",")[0].trim());
  return local ? localListenerPid(Number(local[2])) : null;
}

/**
 * Creates the run's table with the persist stage's own migration (`<fleetCmd> --migrate`: the managed table,
 * its primary key and day partitions), then adds `written_at timestamptz DEFAULT clock_timestamp()` so latency
 * is measured to the row write (shared/audit/latency.ts). Returns the column latency can be measured to.
 */
export async function prepareBenchTable(o: {
  sql: Sql;
  table: string;
  /** `[bun, workers/topology.ts, <topology file>]`. */
  migrateCmd: string[];
  cwd: string;
  env: Record<string, string | undefined>;
  say: (s: string) => void;
}): Promise<"written_at" | "ingested_at"> {
  const migrate = Bun.spawnSync([...o.migrateCmd, "--migrate"], { cwd: o.cwd, env: o.env, stderr: "pipe", stdout: "pipe" });
  if (migrate.exitCode !== 0) {
    o.say(`migration failed (exit ${migrate.exitCode}); latency falls back to ingested_at: ${migrate.stderr.toString().trim().split("\n").at(-1)}`);
    return "ingested_at";
  }
  return o.sql`ALTER TABLE ${o.sql(o.table)} ADD COLUMN written_at timestamptz DEFAULT clock_timestamp()`
    .then(() => "written_at" as const)
    .catch((e) => {
      o.say(`latency falls back to ingested_at: ${e.message}`);
      return "ingested_at" as const;
    });
}

/**
 * The exact audit of a finished run: the table against the manifest, the dead-letter topic read to its end,
 * the pipeline's duplicate count, and the source's watermarks (retention); plus latency and the ingest window.
 */
export async function auditBenchRun(o: {
  sql: Sql;
  kafka: KafkaConfig;
  names: BenchNames;
  partitions: number;
  manifest: LoadgenManifest;
  /** Duplicates the pipeline says it dropped; null skips that check. */
  duplicatesDropped: number | null;
  /** Events the pipeline re-read after a backward reset (its summary's `reread`; see AuditInput.reread). */
  reread?: number;
  filtered: number;
  /** What the RetentionWatcher saw deleted before it was read. */
  observed: string[];
  latencyColumn: "written_at" | "ingested_at";
}): Promise<{ report: AuditReport; timing: RunTiming }> {
  const { names, kafka } = o;
  const dlq = await readDeadLetterTopic({ config: kafka, topic: names.dlq, runId: o.manifest.runId });
  const wmConsumer = new Consumer({ config: { ...kafka, "group.id": `${names.group}-audit` } });
  const source = await watermarksOf(wmConsumer, names.topic, Array.from({ length: o.partitions }, (_, i) => i)).finally(() => wmConsumer.close());
  const report = await audit({
    sql: o.sql,
    table: names.table,
    manifest: o.manifest,
    deadLetters: dlq.tally,
    duplicatesDropped: o.duplicatesDropped,
    reread: o.reread,
    filtered: o.filtered,
    retention: { source, deadLetter: dlq.watermarks, observed: o.observed },
    sourceIsFresh: true,
  });
  const timing = await runTiming(o.sql, names.table, o.manifest.runId, o.latencyColumn);
  return { report, timing };
}

/** Drops the run's table, Redis keys and (on an external broker) topics; reports, never throws. */
export async function cleanupBenchRun(o: { sql: Sql; redisUrl: string; names: BenchNames; kafka: KafkaConfig; external: boolean; say: (s: string) => void }): Promise<void> {
  const { names, say } = o;
  await o.sql`DROP TABLE IF EXISTS ${o.sql(names.table)} CASCADE`.catch((e) => say(`cleanup: could not drop ${names.table}: ${e.message}`));
  await deleteRedisPrefix(o.redisUrl, names.prefix).catch((e) => say(`cleanup: could not delete Redis keys ${names.prefix}*: ${e.message}`));
  if (o.external) {
    const admin = new Admin({ config: o.kafka });
    await admin.deleteTopics([names.topic, names.dlq]).catch((e) => say(`cleanup: could not delete topics: ${e.message}`));
    await admin.close();
  }
}
