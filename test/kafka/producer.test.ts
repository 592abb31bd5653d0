import { describe, expect, test } from "bun:test";
import { Consumer, KafkaError, MockCluster, Producer } from "../../shared/kafka/index.ts";
import { consumeN, consumerConfig, uniqueName } from "./helpers.ts";
import { kafkaSuite, testMockOnly } from "../../dev/support/kafka.ts";

const kafka = kafkaSuite();

async function highWatermarks(topic: string, partitions: number): Promise<number> {
  let total = 0;
  for (let p = 0; p < partitions; p++) total += (await kafka().watermarks(topic, p)).high;
  return total;
}

describe("Producer", () => {
  test("a batch failing for some records rejects with DELIVERY_FAILED listing each failed index", async () => {
    const topic = uniqueName("p");
    await kafka().createTopic(topic, 2);
    const producer = new Producer({ config: { "bootstrap.servers": kafka().bootstraps } });
    const err = await producer
      .sendBatch([
        { topic, value: "ok-0", partition: 0 },
        { topic, value: "bad-1", partition: 5 }, // no such partition
        { topic, value: "ok-2", partition: 1 },
        { topic, value: "bad-3", partition: 9 },
      ])
      .then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(KafkaError);
    const k = err as KafkaError;
    expect(k.code).toBe("DELIVERY_FAILED");
    expect(k.domain).toBe("kafka");
    expect(k.failures!.map((f) => f.index)).toEqual([1, 3]);
    expect(k.failures!.every((f) => f.error.code === "_UNKNOWN_PARTITION")).toBe(true);
    expect(k.retriable).toBe(false);
    expect(await highWatermarks(topic, 2)).toBe(2); // the good ones were delivered
    await producer.close();
  }, 30_000);

  test("a full local queue (_QUEUE_FULL) is waited out, not reported", async () => {
    const topic = uniqueName("qf");
    await kafka().createTopic(topic, 4);
    // A 1,000-message local queue for a 20,000-message batch.
    const producer = new Producer({ config: { "bootstrap.servers": kafka().bootstraps, "queue.buffering.max.messages": "1000", "linger.ms": "1" } });
    const recs = Array.from({ length: 20_000 }, (_, i) => ({ topic, value: `v${i}` }));
    await producer.sendBatch(recs);
    expect(await highWatermarks(topic, 4)).toBe(20_000);
    await producer.close();
  }, 60_000);

  test("concurrent batches keep their call order in a partition even while waiting for queue space", async () => {
    const topic = uniqueName("ord");
    await kafka().createTopic(topic, 1);
    const producer = new Producer({ config: { "bootstrap.servers": kafka().bootstraps, "queue.buffering.max.messages": "500", "linger.ms": "1" } });
    const a = producer.sendBatch(Array.from({ length: 3000 }, (_, i) => ({ topic, partition: 0, value: `a${i}` })));
    const b = producer.sendBatch(Array.from({ length: 3000 }, (_, i) => ({ topic, partition: 0, value: `b${i}` })));
    await Promise.all([a, b]);
    await producer.close();
    const consumer = new Consumer({ config: consumerConfig(kafka().bootstraps, uniqueName("g")) });
    consumer.subscribe([topic]);
    const got = (await consumeN(consumer, 6000)).map((m) => Buffer.from(m.value!).toString());
    await consumer.close();
    expect(got).toEqual([...Array.from({ length: 3000 }, (_, i) => `a${i}`), ...Array.from({ length: 3000 }, (_, i) => `b${i}`)]);
  }, 60_000);

  testMockOnly(
    "broker down then up: the batch promise resolves with everything delivered once the broker is back",
    "takes its broker down through the mock's API (the fault suite restarts a real broker instead)",
    async () => {
    const cluster = await MockCluster.start({ brokers: 1, topics: [{ name: "down", partitions: 3 }] });
    const errors: Error[] = [];
    const producer = new Producer({
      config: { "bootstrap.servers": cluster.bootstraps, "enable.idempotence": "true", "message.timeout.ms": "60000" },
      onError: (e) => errors.push(e),
    });
    await producer.send({ topic: "down", value: "warm-up" }); // connected, metadata known
    cluster.brokerDown(1);
    let settled = false;
    const pending = producer.sendBatch(Array.from({ length: 500 }, (_, i) => ({ topic: "down", key: `k${i}`, value: `v${i}` }))).finally(() => (settled = true));
    await Bun.sleep(2000);
    expect(settled).toBe(false); // nothing can be acknowledged while the broker is down
    cluster.brokerUp(1);
    await pending;
    let total = 0;
    for (let p = 0; p < 3; p++) total += (await cluster.watermarks("down", p)).high;
    expect(total).toBe(501); // idempotence: retries after the outage added no duplicates
    await producer.close();
    await cluster.stop();
    },
    90_000,
  );

  test("compression codecs and idempotence pass through as configuration", async () => {
    for (const codec of ["gzip", "snappy", "lz4", "zstd"]) {
      const topic = uniqueName(`z_${codec}`);
      await kafka().createTopic(topic, 1);
      const producer = new Producer({ config: { "bootstrap.servers": kafka().bootstraps, "compression.type": codec, "enable.idempotence": "true" } });
      await producer.sendBatch(Array.from({ length: 100 }, (_, i) => ({ topic, value: "x".repeat(100) + i })));
      expect((await kafka().watermarks(topic, 0)).high).toBe(100);
      await producer.close();
    }
  }, 60_000);

  test("flush waits for in-flight messages; a closed producer refuses work", async () => {
    const topic = uniqueName("fl");
    await kafka().createTopic(topic, 1);
    const producer = new Producer({ config: { "bootstrap.servers": kafka().bootstraps, "linger.ms": "200" } });
    const pending = producer.sendBatch([{ topic, value: "a" }, { topic, value: "b" }]);
    expect(producer.inFlight).toBe(2);
    await producer.flush(10_000);
    expect(producer.inFlight).toBe(0);
    await pending;
    await producer.close();
    await expect(producer.send({ topic, value: "c" })).rejects.toMatchObject({ code: "CLOSED" });
  }, 30_000);

  test("an invalid property is a CONFIG_INVALID error naming it", () => {
    let err: unknown;
    try {
      new Producer({ config: { "bootstrap.servers": kafka().bootstraps, "compression.type": "brotli" } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KafkaError);
    expect((err as KafkaError).code).toBe("CONFIG_INVALID");
    expect((err as KafkaError).retriable).toBe(false);
    expect((err as KafkaError).message).toContain('"compression.type"');
    expect((err as KafkaError).message).toMatch(/brotli|Invalid value/);
    expect(() => new Producer({ config: { "no.such.property": "1" } })).toThrow(/"no.such.property".*No such configuration property/);
  });
});
