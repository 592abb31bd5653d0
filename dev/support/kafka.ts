/**
 * The Kafka a test talks to: the real broker named by KAFKA_BROKERS (CI starts one from
 * ../shared/kafka-broker with dev/kafka/broker.sh), else librdkafka's in-process mock cluster. Tests create
 * their own uniquely named topics through `createTopic`, so they run in any order and in parallel. Also the
 * helpers every Kafka-facing suite needs: producing test records, reading committed offsets, watermarks and a
 * whole topic, and copying consumed messages out of librdkafka's memory.
 */
import { describe, test } from "bun:test";
import { Admin, Consumer, MockCluster, Producer, detachMessage, type ConsumedMessage, type WatermarkOffsets } from "../../shared/kafka/index.ts";
import { uniqueName, type Requirement } from "./services.ts";
import { suiteResource } from "./suite-resource.ts";

/** Bootstrap servers of a real broker, when the run has one. */
export const REAL_BROKERS = process.env.KAFKA_BROKERS || null;

/** The requirement of suites that must also run on a real broker (CI's test:kafka and fault runs have one). */
export const REAL_BROKER: Requirement = { available: REAL_BROKERS !== null, missing: "KAFKA_BROKERS is not set (a real broker: dev/kafka/broker.sh)" };

/**
 * Group timeouts that keep joins and rebalances quick: the mock's join phase waits session.timeout.ms - 1 s
 * for members to rejoin, so it gets a short one; a real broker refuses sessions under its
 * group.min.session.timeout.ms (6 s by default) with INVALID_SESSION_TIMEOUT.
 */
export const GROUP_TIMEOUTS = REAL_BROKERS
  ? { "session.timeout.ms": "6000", "heartbeat.interval.ms": "500" }
  : { "session.timeout.ms": "2500", "heartbeat.interval.ms": "250" };

/** One Kafka for a test file. */
export interface TestKafka {
  readonly bootstraps: string;
  /** True on a real broker: group session timeouts, retention and crashes behave as in production. */
  readonly real: boolean;
  /** The mock cluster, when this is one (for the faults only its API can inject). */
  readonly mock: MockCluster | null;
  /** Creates a topic and waits until its partitions are known to the cluster. */
  createTopic(name: string, partitions: number, configs?: Record<string, string>): Promise<void>;
  /** Low and high watermark of a partition. */
  watermarks(topic: string, partition: number): Promise<WatermarkOffsets>;
  /** Deletes topics this file created (best effort on the mock, which cannot delete). */
  stop(): Promise<void>;
}

/** Starts (mock) or connects to (real) the Kafka for this file. */
export async function startTestKafka(opts: { mockBrokers?: number } = {}): Promise<TestKafka> {
  if (!REAL_BROKERS) {
    const mock = await MockCluster.start({ brokers: opts.mockBrokers ?? 1 });
    return {
      bootstraps: mock.bootstraps,
      real: false,
      mock,
      async createTopic(name, partitions) {
        mock.createTopic(name, partitions);
      },
      watermarks: (topic, partition) => mock.watermarks(topic, partition),
      stop: () => mock.stop(),
    };
  }
  const admin = new Admin({ config: { "bootstrap.servers": REAL_BROKERS } });
  const created: string[] = [];
  // Watermark queries need a consumer handle; it never subscribes.
  let querier: Consumer | null = null;
  return {
    bootstraps: REAL_BROKERS,
    real: true,
    mock: null,
    async createTopic(name, partitions, configs) {
      await admin.createTopics([{ name, partitions, replicationFactor: 1, configs }]);
      created.push(name);
      // CreateTopics answers before the metadata lists every partition; a consumer subscribing at once
      // would be assigned fewer partitions than the test expects.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const t = (await admin.listTopics()).find((m) => m.name === name);
        if (t && t.partitions.length === partitions) return;
        if (Date.now() > deadline) throw new Error(`topic ${name} has not all ${partitions} partitions after 30 s`);
        await Bun.sleep(100);
      }
    },
    watermarks(topic, partition) {
      querier ??= new Consumer({ config: { "bootstrap.servers": REAL_BROKERS, "group.id": uniqueName("wm") } });
      return querier.watermarks(topic, partition);
    },
    async stop() {
      await querier?.close();
      // A topic left behind costs only disk on a throw-away broker: say so, do not fail the file for it.
      if (created.length) await admin.deleteTopics(created).catch((e: Error) => console.warn(`[test kafka] could not delete topics ${created.join(",")}: ${e.message}`));
      await admin.close();
    },
  };
}

/** Registers beforeAll/afterAll for the file's Kafka; returns an accessor for the tests. */
export function kafkaSuite(opts: { mockBrokers?: number } = {}): () => TestKafka {
  return suiteResource("test Kafka", () => startTestKafka(opts), (k) => k.stop(), 60_000);
}

/**
 * `describe` for cases only the mock cluster can stage (its API takes brokers down or has no real
 * group timeouts): on a real broker it prints why it is not run there; the mock run covers it.
 */
export function describeMockOnly(name: string, reason: string, fn: () => void): void {
  if (!REAL_BROKERS) return describe(name, fn);
  console.warn(`[mock-only] ${name}: ${reason}; covered by the mock-cluster run`);
  describe.skip(name, fn);
}

/** `test` for one case only the mock cluster can stage; see describeMockOnly. */
export function testMockOnly(name: string, reason: string, fn: () => Promise<void> | void, timeoutMs?: number): void {
  if (!REAL_BROKERS) return void test(name, fn, timeoutMs);
  console.warn(`[mock-only] ${name}: ${reason}; covered by the mock-cluster run`);
  test.skip(name, fn, timeoutMs);
}

/**
 * `test` for a case the mock cluster cannot stage faithfully: without a real broker it prints why and is
 * skipped; CI runs it in `test:kafka` against the real broker, where it must pass.
 */
export function testRealOnly(name: string, reason: string, fn: () => Promise<void> | void, timeoutMs?: number): void {
  if (REAL_BROKERS) return void test(name, fn, timeoutMs);
  console.warn(`[real-broker-only] ${name}: ${reason}; run with KAFKA_BROKERS (CI's test:kafka does)`);
  test.skip(name, fn, timeoutMs);
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

const copy = (m: ConsumedMessage): Copied => {
  const c = detachMessage(m);
  return { partition: c.partition, offset: c.offset, key: c.key, value: c.value, headers: new Map(c.headers ?? []), headerList: c.headers ?? [] };
};

/** Reads `count` records of a topic with a throw-away group (the DLQ, in these tests). */
export async function readTopic(brokers: string, topic: string, count: number, timeoutMs = 30_000): Promise<Copied[]> {
  const c = new Consumer({ config: { "bootstrap.servers": brokers, "group.id": uniqueName("reader"), "auto.offset.reset": "earliest", ...GROUP_TIMEOUTS } });
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


/** A fresh source topic of `partitions` partitions (named `<prefix>_…`), its one-partition `<topic>.dlq`, and a fresh group. */
export async function pipelineTopics(kafka: TestKafka, partitions: number, prefix = "src"): Promise<{ topic: string; dlq: string; group: string }> {
  const topic = uniqueName(prefix);
  const dlq = `${topic}.dlq`;
  await kafka.createTopic(topic, partitions);
  await kafka.createTopic(dlq, 1);
  return { topic, dlq, group: uniqueName("grp") };
}
