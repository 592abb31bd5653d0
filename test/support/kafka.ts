/**
 * The Kafka a test talks to: the real broker named by KAFKA_BROKERS (CI starts one from
 * ../shared/kafka-broker with dev/kafka/broker.sh), else librdkafka's in-process mock cluster. Tests create
 * their own uniquely named topics through `createTopic`, so they run in any order and in parallel.
 */
import { afterAll, beforeAll, describe } from "bun:test";
import { Admin, MockCluster } from "../../shared/kafka/index.ts";

/** Bootstrap servers of a real broker, when the run has one. */
export const REAL_BROKERS = process.env.KAFKA_BROKERS || null;

/** One Kafka for a test file. */
export interface TestKafka {
  readonly bootstraps: string;
  /** True on a real broker: group session timeouts, retention and crashes behave as in production. */
  readonly real: boolean;
  /** The mock cluster, when this is one (for the faults only its API can inject). */
  readonly mock: MockCluster | null;
  /** Creates a topic and waits until its partitions are known to the cluster. */
  createTopic(name: string, partitions: number, configs?: Record<string, string>): Promise<void>;
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
      stop: () => mock.stop(),
    };
  }
  const admin = new Admin({ config: { "bootstrap.servers": REAL_BROKERS } });
  const created: string[] = [];
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
    async stop() {
      if (created.length) await admin.deleteTopics(created).catch(() => undefined);
      await admin.close();
    },
  };
}

/** Registers beforeAll/afterAll for the file's Kafka; returns an accessor for the tests. */
export function kafkaSuite(opts: { mockBrokers?: number } = {}): () => TestKafka {
  let kafka: TestKafka | null = null;
  beforeAll(async () => {
    kafka = await startTestKafka(opts);
  }, 60_000);
  afterAll(async () => {
    await kafka?.stop();
  }, 60_000);
  return () => {
    if (!kafka) throw new Error("test Kafka is not started (beforeAll failed?)");
    return kafka;
  };
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
