/** Shared fixtures for the engine tests: topologies, producing test data, reading committed offsets. */
import { join } from "node:path";
import { Consumer, Producer, type ConsumedMessage, type TopicPartitionOffset } from "../../../shared/kafka/index.ts";
import { GROUP_TIMEOUTS, type TestKafka } from "../../../dev/support/kafka.ts";
import { Engine, type EngineHooks } from "../../../shared/runtime/engine/engine.ts";
import { createStages } from "../../../shared/stages/index.ts";
import { createLogger } from "../../../shared/telemetry/logger.ts";
import { Metrics } from "../../../shared/telemetry/metrics.ts";
import { DEFAULT_RETRY, TRACING_OFF } from "../../../shared/topology/defaults.ts";
import type { GroupMembership, ResolvedTopology, RetryConfig, StageConfig, TracingConfig } from "../../../shared/topology/types.ts";
import { uniqueName } from "../../../dev/support/services.ts";
import type { FaultPoints } from "../../../shared/runtime/engine/fault-points.ts";
import type { BackoffPolicy } from "../../../shared/timing/backoff.ts";

export { uniqueName };

/** Absolute path of a test-stage module under fixtures/. */
export const fixture = (name: string): string => join(import.meta.dir, "fixtures", name);

/** A custom stage config for a fixture module. */
export function testStage(module: string, options: Record<string, unknown>, name = module.replace(/\.ts$/, "")): StageConfig {
  return { kind: "custom", name, module: fixture(module), options };
}

/** A pipeline that never finishes a batch: a stage failing retriably forever (observed as `id`), then a sink. */
export function stuckStages(id: string): StageConfig[] {
  return [testStage("flaky-stage.ts", { id, failures: -1 }, "flaky"), testStage("recording-sink.ts", { id: uniqueName("never") })];
}

/** Consumer settings that make group joins and rebalances quick on the test Kafka (see GROUP_TIMEOUTS). */
export const FAST_GROUP = { ...GROUP_TIMEOUTS, "max.poll.interval.ms": "60000" };

/**
 * Group membership of test engines: the FAST_GROUP timings (GROUP_TIMEOUTS: short on the mock, the 6 s a
 * real broker accepts at least). Dynamic by default, because tests run several engines with one worker id in
 * a process.
 */
export function testMembership(o: { static?: boolean } = {}): GroupMembership {
  return {
    static: o.static ?? false,
    sessionTimeoutMs: Number(GROUP_TIMEOUTS["session.timeout.ms"]),
    heartbeatIntervalMs: Number(GROUP_TIMEOUTS["heartbeat.interval.ms"]),
  };
}

/** A resolved topology around a Kafka source (the mock's bootstraps) and the given stages. */
export function topologyFor(o: {
  brokers: string;
  topic: string;
  group: string;
  stages: StageConfig[];
  dlq?: string;
  maxEvents?: number;
  maxBytes?: number;
  maxWaitMs?: number;
  inFlight?: number;
  deadlineMs?: number;
  properties?: Record<string, string>;
  staticMembership?: boolean;
  tracing?: TracingConfig;
  retry?: RetryConfig;
}): ResolvedTopology {
  return {
    file: "/test/topology.yaml",
    name: "enginetest",
    source: { kind: "kafka", brokers: o.brokers, topics: [o.topic], group: o.group, start: "earliest", membership: testMembership({ static: o.staticMembership }), properties: { "max.poll.interval.ms": FAST_GROUP["max.poll.interval.ms"], ...o.properties } },
    stages: o.stages,
    deadLetter: { topic: o.dlq ?? `${o.topic}.dlq` },
    batch: { maxEvents: o.maxEvents ?? 500, maxBytes: o.maxBytes ?? 8 * 1024 * 1024, maxWaitMs: o.maxWaitMs ?? 20 },
    concurrency: { replicas: { min: 1, max: 1, lagPerReplica: 1000 }, inFlightBatches: o.inFlight ?? 4 },
    http: { port: 0, host: "127.0.0.1" },
    log: { level: "warn" },
    shutdown: { deadlineMs: o.deadlineMs ?? 20_000 },
    tracing: o.tracing ?? TRACING_OFF,
    retry: o.retry ?? DEFAULT_RETRY,
    warnings: [],
  };
}

/** Builds an engine (not started) with its own metrics registry. */
export async function makeEngine(topology: ResolvedTopology, opts: { workerId?: number; hooks?: EngineHooks; backoff?: Partial<BackoffPolicy>; faults?: FaultPoints } = {}) {
  const metrics = new Metrics();
  // A test's backoff is the topology's `retry:` backoff, as a user would set it.
  if (opts.backoff) topology = { ...topology, retry: { ...topology.retry, backoff: { ...topology.retry.backoff, ...opts.backoff } } };
  const engine = new Engine({
    topology,
    workerId: opts.workerId ?? 0,
    brokers: topology.source.kind === "kafka" ? topology.source.brokers : "",
    stages: await createStages(topology),
    logger: createLogger({ level: process.env.TOPOFLEET_LOG_LEVEL ?? "warn", workerId: opts.workerId ?? 0, component: "engine-test" }),
    metrics,
    dataDir: "/tmp",
    lagIntervalMs: 500,
    hooks: opts.hooks,
    faults: opts.faults,
  });
  return { engine, metrics };
}

/** Produces `n` records round-robin over `partitions` partitions; value/key/headers from `make(i)`. */
export async function produce(
  brokers: string,
  topic: string,
  n: number,
  partitions: number,
  make: (i: number) => { value: Uint8Array | string | null; key?: string | null; headers?: Array<[string, Uint8Array | string | null]> } = (i) => ({
    value: `event-${i}`,
    key: `k${i}`,
  }),
): Promise<void> {
  const p = new Producer({ config: { "bootstrap.servers": brokers, "linger.ms": "5" } });
  try {
    const chunk = 5_000;
    for (let start = 0; start < n; start += chunk) {
      const records = [];
      for (let i = start; i < Math.min(n, start + chunk); i++) records.push({ topic, partition: i % partitions, ...make(i) });
      await p.sendBatch(records);
    }
  } finally {
    await p.close();
  }
}

/** The group's committed offsets for partitions 0..n-1 of a topic (-1001 where none). */
export async function committedOffsets(brokers: string, group: string, topic: string, partitions: number): Promise<number[]> {
  const c = new Consumer({ config: { "bootstrap.servers": brokers, "group.id": group } });
  try {
    const res = await c.committed(Array.from({ length: partitions }, (_, partition) => ({ topic, partition })));
    return res.sort((a, b) => a.partition - b.partition).map((r) => r.offset);
  } finally {
    await c.close();
  }
}

/** High watermarks of partitions 0..n-1 (and a check that retention deleted nothing). */
export async function highWatermarks(kafka: Pick<TestKafka, "watermarks">, topic: string, partitions: number): Promise<number[]> {
  const out: number[] = [];
  for (let p = 0; p < partitions; p++) {
    const wm = await kafka.watermarks(topic, p);
    if (wm.low > 0) throw new Error(`retention deleted records of ${topic}[${p}] (low=${wm.low}): the test is invalid, not the engine`);
    out.push(wm.high);
  }
  return out;
}

/** A consumed record copied out of librdkafka memory. */
export interface Copied {
  partition: number;
  offset: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: Map<string, Uint8Array | null>;
  headerList: Array<[string, Uint8Array | null]>;
}

const copy = (m: ConsumedMessage): Copied => ({
  partition: m.partition,
  offset: m.offset,
  key: m.key ? m.key.slice() : null,
  value: m.value ? m.value.slice() : null,
  headers: new Map(m.headers ?? []),
  headerList: m.headers ?? [],
});

/** Reads `count` records of a topic with a throw-away group (the DLQ, in these tests). */
export async function readTopic(brokers: string, topic: string, count: number, timeoutMs = 30_000): Promise<Copied[]> {
  // A real broker refuses session timeouts under its group.min.session.timeout.ms (6 s by default).
  const session = process.env.KAFKA_BROKERS ? { "session.timeout.ms": "6000" } : {};
  const c = new Consumer({ config: { "bootstrap.servers": brokers, "group.id": uniqueName("reader"), "auto.offset.reset": "earliest", ...FAST_GROUP, ...session } });
  const out: Copied[] = [];
  try {
    c.subscribe([topic]);
    const deadline = Date.now() + timeoutMs;
    while (out.length < count && Date.now() < deadline) {
      const b = await c.consume(1000, 200);
      out.push(...b.messages.map(copy));
      b.release();
    }
    // A little longer, to catch records beyond the expected count (duplicates).
    const b = await c.consume(1000, 300);
    out.push(...b.messages.map(copy));
    b.release();
    return out;
  } finally {
    await c.close();
  }
}

/**
 * Watches one engine: the partitions it owns (from its rebalance events), every commit it issues (which must
 * target an owned partition at that moment), the commits acknowledged (with their time), revocations that
 * librdkafka reported as lost, and sync commits that failed.
 */
export class OwnershipAudit {
  readonly owned = new Set<string>();
  readonly violations: string[] = [];
  readonly commits: TopicPartitionOffset[] = [];
  readonly acknowledged: Array<TopicPartitionOffset & { at: number }> = [];
  lostRevocations = 0;
  failedSyncCommits = 0;

  readonly hooks: EngineHooks = {
    commitIssued: (offsets) => {
      for (const o of offsets) {
        this.commits.push(o);
        if (!this.owned.has(`${o.topic}/${o.partition}`)) this.violations.push(`commit of ${o.topic}[${o.partition}]@${o.offset} while not owned`);
      }
    },
    commitSettled: (offsets, sync, error) => {
      if (error === null) for (const o of offsets) this.acknowledged.push({ ...o, at: performance.now() });
      else if (sync) this.failedSyncCommits++;
    },
    rebalanced: (e) => {
      if (e.type === "revoked" && e.lost) this.lostRevocations++;
      for (const tp of e.partitions) {
        if (e.type === "assigned") this.owned.add(`${tp.topic}/${tp.partition}`);
        else this.owned.delete(`${tp.topic}/${tp.partition}`);
      }
    },
  };

  /** True when this engine had an acknowledged commit of `partition` beyond `offset` before time `before`. */
  committedBeyond(partition: number, offset: number, before: number): boolean {
    return this.acknowledged.some((c) => c.partition === partition && c.offset > offset && c.at < before);
  }
}
