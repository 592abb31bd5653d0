/**
 * One injected fault run end to end: a fresh topic, DLQ topic, consumer group, table and Bloom prefix; a
 * topology file whose Kafka source points at the suite's mock cluster; the real CLI (`bun workers/topology.ts`)
 * as the fleet; the load generator producing while the fleet consumes; and the exact audit (shared/audit)
 * against the table and the DLQ at the end.
 *
 * Completion is judged from the consumer group's committed offsets (every produced message committed), never
 * from the fleet's own counters: a worker killed with SIGKILL takes its last counts with it, while the
 * committed offsets and the table stay the truth.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CliProcess, type CliSummary } from "../../../dev/support/cli-process.ts";
import { waitFor } from "../../../dev/support/wait.ts";
import { audit, formatAudit, RetentionWatcher } from "../../../shared/audit/index.ts";
import { Consumer, Producer, mockPartitionsFor, type KafkaConfig } from "../../../shared/kafka/index.ts";
import { newRunId, runGenerator, type GeneratorResult, type LoadgenManifest } from "../../../shared/loadgen/index.ts";
import { watermarksOf } from "../../../shared/topic-reader/metadata.ts";
import type { GeneratorConfig } from "../../../shared/topology/types.ts";
import { readDeadLetters } from "./dead-letters.ts";
import { MOCK_BROKERS, type FaultServices, type ScenarioKafka } from "./services.ts";
import { auditLine, onlyDatabaseRejections, type ScenarioResult } from "./verdict.ts";

/** Largest hand-made record a scenario can produce (produceExtra), e.g. a 4 MB event. */
export const MAX_EXTRA_RECORD_BYTES = 8 * 1024 * 1024;

/** Bytes per generated record on the wire (payload + envelope + headers), for partition sizing. */
const RECORD_BYTES = 700;

/** What a scenario varies. */
export interface ScenarioOptions {
  /** Short label for names and the audit line, e.g. "crash-after-dedupe". */
  label: string;
  /** Generated events (valid + duplicate + invalid). */
  events: number;
  /** Generator rate (events/s) while the fleet consumes. */
  rate: number;
  /** Source partitions (raised to what holds `events` without mock retention loss). */
  partitions?: number;
  duplicateRatio?: number;
  invalidRatio?: number;
  /** batch.maxEvents (default 500: many batches, so faults land mid-stream). */
  batchMaxEvents?: number;
  inFlightBatches?: number;
  /** shutdown.deadline in ms (default 20 s). */
  shutdownDeadlineMs?: number;
  /** enrich.maxEventBytes (default 16 KiB). */
  maxEventBytes?: number;
  /** Kafka to run on instead of the suite's (a broker the test stops and starts). */
  kafka?: ScenarioKafka;
  /** enrich.module: absolute path of a user enrich module (default none). */
  enrichModule?: string;
  /** enrich.sliceTimeout in ms (default: the topology default). */
  sliceTimeoutMs?: number;
  /** persist.retentionDays (default: the topology default). */
  retentionDays?: number;
  /** Distinct tenant ids the generator uses (default 8). */
  tenants?: number;
  /** dedupe.perTenant and dedupe.tenantFilters (default: shared filters). */
  perTenant?: { tenantFilters: number };
}

const q = (s: string) => JSON.stringify(s);

/** One injected fault run end to end: topics, table, topology, fleet(s), generator, audit. */
export class Scenario {
  readonly tag: string;
  readonly topic: string;
  readonly dlq: string;
  readonly group: string;
  readonly table: string;
  readonly prefix: string;
  readonly partitions: number;
  readonly topologyFile: string;
  readonly dir: string;
  readonly fleets: CliProcess[] = [];
  private readonly startedAt = Date.now();
  private watcher: RetentionWatcher | null = null;
  private extraRecords = 0;
  private readonly producer: Producer;
  private readonly topicsCreated: Promise<void>;
  /** Client config of the Kafka this scenario runs on. */
  readonly kafkaConfig: KafkaConfig;

  constructor(
    readonly env: FaultServices,
    readonly opts: ScenarioOptions,
  ) {
    this.tag = `${opts.label.replace(/[^a-z0-9]+/g, "")}${newRunId().toLowerCase().slice(0, 8)}`;
    this.topic = `fault-${this.tag}`;
    this.dlq = `${this.topic}.dlq`;
    this.group = `fault-${this.tag}`;
    this.table = `fault_${this.tag}`;
    this.prefix = `tf:fault:${this.tag}`;
    this.partitions = Math.max(opts.partitions ?? 4, mockPartitionsFor(opts.events, RECORD_BYTES));
    // In the system temp dir, so a failed scenario's logs outlive the suite.
    this.dir = mkdtempSync(join(tmpdir(), `tf-fault-${this.tag}-`));
    this.topologyFile = join(this.dir, "topology.yaml");
    // On the mock: replicated on every broker, so one broker going down leaves a replica (the mock may still
    // stall). On a real broker the source takes records up to MAX_EXTRA_RECORD_BYTES (poison of that size).
    const own = opts.kafka;
    this.kafkaConfig = { "bootstrap.servers": own?.bootstraps ?? env.bootstraps };
    const sourceConfigs = { "max.message.bytes": String(MAX_EXTRA_RECORD_BYTES) };
    this.topicsCreated = own
      ? Promise.all([own.createTopic(this.topic, this.partitions, sourceConfigs), own.createTopic(this.dlq, 2)]).then(() => undefined)
      : env.real
        ? Promise.all([env.createTopic(this.topic, this.partitions, sourceConfigs), env.createTopic(this.dlq, 2)]).then(() => undefined)
        : (env.mock.createTopic(this.topic, this.partitions, MOCK_BROKERS), env.mock.createTopic(this.dlq, 2, MOCK_BROKERS), Promise.resolve());
    this.topicsCreated.catch(() => undefined);
    writeFileSync(this.topologyFile, this.topologyYaml());
    this.producer = new Producer({
      config: { ...this.kafkaConfig, "enable.idempotence": "true", "linger.ms": "5", "message.max.bytes": String(MAX_EXTRA_RECORD_BYTES) },
    });
  }

  /** Settles once the topics exist (runScenario awaits it). */
  get ready(): Promise<void> {
    return this.topicsCreated;
  }

  /** A scenario whose topics exist (on a real broker, creating them is asynchronous). */
  static async create(env: FaultServices, opts: ScenarioOptions): Promise<Scenario> {
    const s = new Scenario(env, opts);
    await s.topicsCreated;
    return s;
  }

  /** The scenario's topology: connection URLs from the environment, everything else fixed here. */
  private topologyYaml(): string {
    const o = this.opts;
    return [
      `name: ${q(`fault-${this.tag}`)}`,
      `source:`,
      `  kafka:`,
      `    brokers: "\${TF_FAULT_BROKERS}"`,
      `    topics: [${q(this.topic)}]`,
      `    group: ${q(this.group)}`,
      `    start: earliest`,
      // A killed member's partitions move after the session timeout, or come back with its restart.
      `    sessionTimeout: 6s`,
      `    heartbeatInterval: 500ms`,
      `stages:`,
      `  - enrich:`,
      `      threads: 1`,
      `      maxEventBytes: ${o.maxEventBytes ?? 16 * 1024}`,
      ...(o.enrichModule ? [`      module: ${q(o.enrichModule)}`] : []),
      ...(o.sliceTimeoutMs ? [`      sliceTimeout: ${o.sliceTimeoutMs}`] : []),
      `  - dedupe:`,
      `      backend: redis`,
      `      redis: {url: "\${TF_FAULT_REDIS_URL}", mode: bitmap}`,
      `      prefix: ${q(this.prefix)}`,
      `      expectedPerWindow: 200000`,
      ...(o.perTenant ? [`      perTenant: true`, `      tenantFilters: ${o.perTenant.tenantFilters}`] : []),
      `  - persist:`,
      `      url: "\${TF_FAULT_DATABASE_URL}"`,
      `      table: ${q(this.table)}`,
      `      connections: 2`,
      ...(o.retentionDays ? [`      retentionDays: ${o.retentionDays}`] : []),
      `deadLetter:`,
      `  topic: ${q(this.dlq)}`,
      `batch:`,
      `  maxEvents: ${o.batchMaxEvents ?? 500}`,
      `  maxWait: 50ms`,
      `concurrency:`,
      `  replicas: 1`,
      `  inFlightBatches: ${o.inFlightBatches ?? 2}`,
      `http:`,
      `  port: 0`,
      `shutdown:`,
      `  deadline: ${o.shutdownDeadlineMs ?? 20_000}`,
      "",
    ].join("\n");
  }

  /** Generator settings of the scenario. */
  get generatorConfig(): GeneratorConfig {
    return {
      rate: this.opts.rate,
      events: this.opts.events,
      tenants: this.opts.tenants ?? 8,
      duplicateRatio: this.opts.duplicateRatio ?? 0.03,
      invalidRatio: this.opts.invalidRatio ?? 0.01,
      binaryRatio: 0.2,
      payloadBytes: 200,
    };
  }

  /** Runs `bun workers/topology.ts <file> --migrate` (creates the table before the fleet, e.g. to add a CHECK). */
  async migrate(): Promise<void> {
    const p = new CliProcess([this.topologyFile, "--migrate"], this.fleetEnv(), join(this.dir, "migrate.log"));
    const code = await p.exited;
    if (code !== 0) throw new Error(`--migrate exited ${code}:\n${p.tail()}`);
  }

  /** Starts one fleet (a `topology` process with --replicas 1 and --json); its stderr goes to a log file. */
  startFleet(extraEnv: Record<string, string> = {}): CliProcess {
    const n = this.fleets.length;
    const args = [this.topologyFile, "--replicas", "1", "--json", "--data-dir", join(this.dir, `data-${n}`)];
    const fleet = new CliProcess(args, this.fleetEnv(extraEnv), join(this.dir, `fleet-${n}.log`));
    this.fleets.push(fleet);
    if (!this.watcher) {
      this.watcher = new RetentionWatcher({
        config: this.kafkaConfig,
        topic: this.topic,
        group: this.group,
        partitions: Array.from({ length: this.partitions }, (_, i) => i),
        intervalMs: 250,
      }).start();
    }
    return fleet;
  }

  /** The fleet's environment: the suite's services, this scenario's Kafka. */
  fleetEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
    return this.env.fleetEnv({ TF_FAULT_BROKERS: this.kafkaConfig["bootstrap.servers"]!, ...extra });
  }

  /** Produces the scenario's generated events at its rate; resolves with the manifest once all are acknowledged. */
  produce(): Promise<GeneratorResult> {
    return runGenerator({ producer: this.producer, topic: this.topic, config: this.generatorConfig, key: "id" });
  }

  /** Produces extra hand-made records (poison the generator does not make); they count as produced. */
  async produceExtra(records: Array<{ key: string; value: string | Uint8Array | null; headers?: Array<[string, string | Uint8Array]> }>): Promise<void> {
    await this.producer.sendBatch(records.map((r) => ({ topic: this.topic, ...r })));
    this.extraRecords += records.length;
  }

  /** The group's committed offset per partition right now (-1 when none), read without joining the group. */
  async committedOffsets(): Promise<Map<number, number>> {
    const c = new Consumer({ config: { ...this.kafkaConfig, "group.id": this.group } });
    try {
      const tps = Array.from({ length: this.partitions }, (_, partition) => ({ topic: this.topic, partition }));
      const out = new Map<number, number>();
      for (const r of await c.committed(tps)) out.set(r.partition, r.offset >= 0 ? r.offset : -1);
      return out;
    } finally {
      await c.close();
    }
  }

  /** Messages committed by the group right now (a fresh query, unlike the polled `committed`). */
  async committedNow(): Promise<number> {
    let n = 0;
    for (const o of (await this.committedOffsets()).values()) n += Math.max(0, o);
    return n;
  }

  /** Rows whose Kafka position is at or past the group's committed offset: persisted but not committed. */
  async rowsPastCommitted(): Promise<number> {
    const committed = await this.committedOffsets();
    const parts = [...committed.keys()];
    const offs = parts.map((p) => Math.max(0, committed.get(p)!));
    const [r] = await this.env.sql<Array<{ n: string }>>`
      SELECT count(*) AS n FROM ${this.env.sql(this.table)} t
      JOIN unnest(${parts}::int[], ${offs}::bigint[]) AS c(p, o) ON t.kafka_partition = c.p
      WHERE t.kafka_offset >= c.o`;
    return Number(r.n);
  }

  /** Messages the consumer group has committed so far (sum of committed offsets). */
  get committed(): number {
    return this.watcher?.committedTotal ?? 0;
  }

  /** Waits until the group has committed at least `n` messages. */
  async waitCommitted(n: number, timeoutMs = 120_000): Promise<void> {
    await waitFor(
      () => {
        const dead = this.fleets.find((f) => !f.running && f.proc.exitCode !== 0);
        if (dead) throw new Error(`a fleet exited with ${dead.proc.exitCode ?? dead.proc.signalCode} before ${n} messages were committed:\n${dead.tail()}`);
        return this.committed >= n;
      },
      { timeoutMs: timeoutMs, what: `${n} committed messages in group ${this.group} (at ${this.committed})`, everyMs: 100 },
    );
  }

  /** SIGTERMs a fleet and waits for it to exit; returns the exit code and how long the drain took. */
  async stopFleet(fleet: CliProcess, timeoutMs = 60_000): Promise<{ code: number; drainMs: number }> {
    const t0 = Date.now();
    fleet.signal("SIGTERM");
    const killer = setTimeout(() => fleet.killAll(), timeoutMs);
    const code = await fleet.exited;
    clearTimeout(killer);
    return { code, drainMs: Date.now() - t0 };
  }

  /**
   * Waits until every produced message is committed, stops the running fleets, and audits the table and the
   * DLQ against the manifest. `exactDuplicates`: whether the fleet's duplicate counter must equal the injected
   * duplicates (false after crash-replay or rebalances, where it may legitimately be higher);
   * `expectedCrashes`: worker crashes the scenario causes on purpose (any other crash fails it);
   * `countsExact`: the duplicate counter must equal the injected duplicates even though events were replayed
   * (the fleet counts from the tallies committed with the offsets; the DLQ may still hold replayed copies);
   * `fencingRestartsExpected`: restarts of workers fenced by the broker (FENCED_INSTANCE_ID, after a broker
   * outage longer than the session timeout) count as expected too.
   */
  async finish(
    manifest: LoadgenManifest,
    o: { exactDuplicates: boolean; countsExact?: boolean; timeoutMs?: number; rejectedByDatabase?: number; expectedCrashes?: number; fencingRestartsExpected?: boolean },
  ): Promise<ScenarioResult> {
    const produced = manifest.messages + this.extraRecords;
    await this.waitCommitted(produced, o.timeoutMs ?? 120_000);
    for (const f of this.fleets) {
      if (!f.running) continue;
      const { code } = await this.stopFleet(f);
      if (code !== 0) throw new Error(`fleet exited ${code} after a clean SIGTERM:\n${f.tail()}`);
    }
    const watcher = this.watcher;
    this.watcher = null;
    await watcher?.stop();
    const summaries = this.fleets.map((f) => f.summary());
    const duplicatesDropped = summaries.every((s): s is CliSummary => s !== null) ? summaries.reduce((n, s) => n + s.duplicates, 0) : null;

    const dl = await readDeadLetters(this.kafkaConfig, this.dlq, manifest.runId);
    const wm = new Consumer({ config: { ...this.kafkaConfig, "group.id": `${this.group}-audit` } });
    const source = await watermarksOf(wm, this.topic, Array.from({ length: this.partitions }, (_, i) => i)).finally(() => wm.close());
    const report = await audit({
      sql: this.env.sql,
      table: this.table,
      manifest,
      deadLetters: dl.tally,
      duplicatesDropped: o.exactDuplicates || o.countsExact ? duplicatesDropped : null,
      retention: { source, deadLetter: dl.watermarks, observed: watcher?.observed ?? [] },
      sourceIsFresh: this.extraRecords === 0,
    });
    const result: ScenarioResult = {
      report,
      manifest,
      produced,
      duplicatesDropped,
      deadLetters: dl.distinct,
      deadLetterCopies: dl.copies,
      exactDuplicates: o.exactDuplicates,
      rejectedByDatabase: o.rejectedByDatabase ?? 0,
      workerCrashes: this.fleets.reduce((n, f) => n + (f.stderr.match(/worker crashed; restarting/g)?.length ?? 0), 0),
      expectedCrashes: (o.expectedCrashes ?? 0) + (o.fencingRestartsExpected ? this.fencingRestarts() : 0),
      elapsedMs: Date.now() - this.startedAt,
    };
    console.log(auditLine(this.opts.label, result));
    if (!report.ok && !onlyDatabaseRejections(result)) console.log(formatAudit(report));
    return result;
  }

  /** Rows in the scenario's table with exactly this id. */
  async rowsWithId(id: string): Promise<number> {
    const [r] = await this.env.sql<Array<{ n: string }>>`SELECT count(*) AS n FROM ${this.env.sql(this.table)} WHERE id = ${id}`;
    return Number(r.n);
  }

  /** Day partitions of the scenario's table. */
  async partitionCount(): Promise<number> {
    const [r] = await this.env.sql<Array<{ n: string }>>`SELECT count(*) AS n FROM pg_inherits WHERE inhparent = to_regclass(${this.table})`;
    return Number(r.n);
  }

  /** Worker restarts of every fleet whose cause was FENCED_INSTANCE_ID. */
  private fencingRestarts(): number {
    const fenced = (l: string) => l.includes('"msg":"worker crashed; restarting') && l.includes('"code":"FENCED_INSTANCE_ID"');
    return this.fleets.reduce((n, f) => n + f.stderr.split("\n").filter(fenced).length, 0);
  }

  /** Rows in the scenario's table whose id starts with `prefix`. */
  async rowsWithIdPrefix(prefix: string): Promise<number> {
    const [r] = await this.env.sql<Array<{ n: string }>>`SELECT count(*) AS n FROM ${this.env.sql(this.table)} WHERE id LIKE ${prefix + "%"}`;
    return Number(r.n);
  }

  /**
   * Kills leftover fleets (and their workers), closes the producer and drops the table. Topics and Redis keys
   * go with the suite's mock cluster and redis-server; the directory (topology, logs) is kept on request.
   */
  async cleanup(keepLogs: boolean): Promise<void> {
    for (const f of this.fleets) f.killAll();
    await Promise.all(this.fleets.map((f) => f.exited));
    await this.watcher?.stop().catch(() => undefined);
    await this.producer.close().catch(() => undefined);
    await this.env.sql`DROP TABLE IF EXISTS ${this.env.sql(this.table)} CASCADE`.catch(() => undefined);
    if (!keepLogs) rmSync(this.dir, { recursive: true, force: true });
    else console.log(`[fault] ${this.opts.label}: logs kept in ${this.dir}`);
  }
}

/** Runs one scenario's body, then cleans up; a failed scenario keeps its topology and fleet logs for the post-mortem. */
export async function runScenario(s: Scenario, body: () => Promise<void>): Promise<void> {
  let ok = false;
  try {
    await s.ready;
    await body();
    ok = true;
  } finally {
    await s.cleanup(!ok);
  }
}
