import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Admin, KafkaError, MOCK_PARTITION_MAX_BYTES, MockCluster, Producer, mockPartitionsFor } from "../../shared/kafka/index.ts";
import { uniqueName } from "./helpers.ts";
import { REAL_BROKERS } from "../../dev/support/kafka.ts";

let mock: MockCluster;
beforeAll(async () => {
  mock = await MockCluster.start({ brokers: 3, topics: [{ name: "preset", partitions: 5 }] });
});
afterAll(async () => {
  await mock.stop();
});

// A real cluster for the parts of Admin the mock broker does not implement (CreateTopics, DeleteTopics).
if (!REAL_BROKERS) {
  console.warn(
    "[skip] Admin createTopics/deleteTopics round trip: librdkafka's mock broker has no CreateTopics/DeleteTopics " +
      "handlers (and reports ControllerId 0, a broker that does not exist); set KAFKA_BROKERS to run it against a real cluster",
  );
}

describe("Admin", () => {
  test("listTopics returns every topic with its partition ids", async () => {
    const admin = new Admin({ config: { "bootstrap.servers": mock.bootstraps } });
    const t = uniqueName("adm_l");
    mock.createTopic(t, 3);
    const listed = await admin.listTopics();
    expect(listed.find((x) => x.name === t)?.partitions).toEqual([0, 1, 2]);
    expect(listed.find((x) => x.name === "preset")?.partitions).toEqual([0, 1, 2, 3, 4]);
    await admin.close();
    await expect(admin.listTopics()).rejects.toMatchObject({ code: "CLOSED" });
  }, 30_000);

  test("createTopics against the mock fails typed and within its timeout instead of hanging", async () => {
    const admin = new Admin({ config: { "bootstrap.servers": mock.bootstraps } });
    const started = Date.now();
    const err = await admin.createTopics([{ name: uniqueName("adm_c"), partitions: 1 }], 1500).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(KafkaError);
    expect((err as KafkaError).code).toBe("_TIMED_OUT");
    expect((err as KafkaError).retriable).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
    await admin.close();
  }, 30_000);

  test.skipIf(!REAL_BROKERS)("createTopics (with configs), listTopics, deleteTopics on a real cluster", async () => {
    const admin = new Admin({ config: { "bootstrap.servers": REAL_BROKERS! } });
    const a = uniqueName("adm_a");
    await admin.createTopics([{ name: a, partitions: 3, replicationFactor: 1, configs: { "retention.ms": "3600000" } }]);
    expect((await admin.listTopics()).find((t) => t.name === a)?.partitions).toEqual([0, 1, 2]);
    const dup = await admin.createTopics([{ name: a, partitions: 3 }]).then(() => null, (e: unknown) => e);
    expect((dup as KafkaError).code).toBe("TOPIC_ALREADY_EXISTS");
    await admin.deleteTopics([a]);
    // Deletion is asynchronous on the broker side: wait for metadata to stop listing it.
    const deadline = Date.now() + 30_000;
    while ((await admin.listTopics()).some((t) => t.name === a) && Date.now() < deadline) await Bun.sleep(200);
    expect((await admin.listTopics()).some((t) => t.name === a)).toBe(false);
    await admin.close();
  }, 90_000);
});

describe("MockCluster", () => {
  test("bootstraps, topic creation and partitionCount", async () => {
    expect(mock.bootstraps.split(",").length).toBe(3);
    const t = uniqueName("m");
    mock.createTopic(t, 7);
    expect(await mock.partitionCount(t)).toBe(7);
    expect(await mock.partitionCount(uniqueName("missing"))).toBe(0);
  }, 30_000);

  test("watermarks reveal retention loss: a partition keeps at most 5 MiB, older records are deleted", async () => {
    const t = uniqueName("ret");
    mock.createTopic(t, 1);
    const producer = new Producer({ config: { "bootstrap.servers": mock.bootstraps, "linger.ms": "5" } });
    const value = new Uint8Array(10_000);
    // ~8 MB into one partition: well past the mock's 5 MiB.
    await producer.sendBatch(Array.from({ length: 800 }, () => ({ topic: t, value })));
    await producer.close();
    const wm = await mock.watermarks(t, 0);
    expect(wm.high).toBe(800);
    expect(wm.low).toBeGreaterThan(0); // records below `low` are gone
    expect((wm.high - wm.low) * 10_000).toBeLessThanOrEqual(MOCK_PARTITION_MAX_BYTES);
  }, 30_000);

  test("mockPartitionsFor sizes topics so that retention never deletes anything", async () => {
    expect(mockPartitionsFor(0, 100)).toBe(1);
    expect(mockPartitionsFor(1000, 100)).toBe(1);
    // 1M x 200 B = ~230 MB with framing: bytes decide.
    expect(mockPartitionsFor(1_000_000, 200)).toBeGreaterThanOrEqual(Math.ceil((1_000_000 * 200) / MOCK_PARTITION_MAX_BYTES));
    // 1M tiny records: the 100,000-per-partition count decides.
    expect(mockPartitionsFor(1_000_000, 1)).toBeGreaterThanOrEqual(10);
    // And it holds in practice: 60k records of 1 KB in the suggested partitions keep low watermarks at 0.
    const n = 60_000;
    const parts = mockPartitionsFor(n, 1000);
    const t = uniqueName("fit");
    mock.createTopic(t, parts);
    const producer = new Producer({ config: { "bootstrap.servers": mock.bootstraps, "linger.ms": "5" } });
    const value = new Uint8Array(1000);
    await producer.sendBatch(Array.from({ length: n }, (_, i) => ({ topic: t, key: `k${i}`, value })));
    await producer.close();
    let total = 0;
    for (let p = 0; p < parts; p++) {
      const wm = await mock.watermarks(t, p);
      expect(wm.low).toBe(0);
      total += wm.high;
    }
    expect(total).toBe(n);
  }, 60_000);

  test("a stopped cluster refuses further use", async () => {
    const m = await MockCluster.start({ brokers: 1 });
    await m.stop();
    expect(() => m.createTopic("x", 1)).toThrow(KafkaError);
  }, 30_000);
});
