import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Consumer, KafkaError, Producer } from "../../shared/kafka/index.ts";
import { consumeN, consumerConfig, uniqueName } from "./helpers.ts";
import { waitFor } from "../../dev/support/wait.ts";
import { kafkaSuite } from "../../dev/support/kafka.ts";

const kafka = kafkaSuite();

let producer: Producer;
beforeAll(async () => {
  producer = new Producer({ config: { "bootstrap.servers": kafka().bootstraps } });
});
afterAll(async () => {
  await producer.close();
});

/** A fresh topic with `perPartition` messages "p:i" in each partition. */
async function topicWith(partitions: number, perPartition: number, timestamp?: (p: number, i: number) => number): Promise<string> {
  const topic = uniqueName("c");
  await kafka().createTopic(topic, partitions);
  const recs = [];
  for (let p = 0; p < partitions; p++)
    for (let i = 0; i < perPartition; i++) recs.push({ topic, partition: p, value: `${p}:${i}`, timestamp: timestamp?.(p, i) });
  await producer.sendBatch(recs);
  return topic;
}

describe("Consumer", () => {
  test("commit, then a new member of the same group resumes from the committed offsets", async () => {
    const topic = await topicWith(2, 50);
    const group = uniqueName("g");
    const first = new Consumer({ config: consumerConfig(kafka().bootstraps, group) });
    first.subscribe([topic]);
    const got = await consumeN(first, 100);
    expect(got.length).toBe(100);
    // Commit "processed" up to offset 29 in partition 0 and 9 in partition 1 (offset = next to read).
    await first.commit(
      [
        { topic, partition: 0, offset: 30 },
        { topic, partition: 1, offset: 10 },
      ],
      { sync: true },
    );
    expect(await first.committed([{ topic, partition: 0 }, { topic, partition: 1 }])).toEqual([
      { topic, partition: 0, offset: 30 },
      { topic, partition: 1, offset: 10 },
    ]);
    await first.close();

    const second = new Consumer({ config: consumerConfig(kafka().bootstraps, group) });
    second.subscribe([topic]);
    const again = await consumeN(second, 60);
    await second.close();
    const p0 = again.filter((m) => m.partition === 0).map((m) => m.offset);
    const p1 = again.filter((m) => m.partition === 1).map((m) => m.offset);
    expect(p0[0]).toBe(30);
    expect(p0.length).toBe(20);
    expect(p1[0]).toBe(10);
    expect(p1.length).toBe(40);
  }, 60_000);

  test("an async commit resolves from its OFFSET_COMMIT event; a commit after close fails with CLOSED", async () => {
    const topic = await topicWith(1, 10);
    const group = uniqueName("g");
    const c = new Consumer({ config: consumerConfig(kafka().bootstraps, group) });
    c.subscribe([topic]);
    await consumeN(c, 10);
    await c.commit([{ topic, partition: 0, offset: 10 }]);
    expect((await c.committed([{ topic, partition: 0 }]))[0].offset).toBe(10);
    await c.close();
    await expect(c.commit([{ topic, partition: 0, offset: 10 }])).rejects.toMatchObject({ code: "CLOSED" });
  }, 60_000);

  test("offsetsForTimes resolves per-partition offsets through the ListOffsets API", async () => {
    // librdkafka's mock broker answers only the logical timestamps (-2 earliest, -1 latest) and returns -1
    // for a real timestamp ("FIXME: by timestamp" in rdkafka_mock_handlers.c); a real broker returns the
    // first offset whose timestamp is >= the one asked. On the mock only the plumbing (request,
    // per-partition results) is checked; on a real broker (KAFKA_BROKERS) the answer too.
    const topic = await topicWith(2, 10, (_p, i) => 1_700_000_000_000 + i * 1000);
    const c = new Consumer({ config: consumerConfig(kafka().bootstraps, uniqueName("g")) });
    const res = await c.offsetsForTimes([
      { topic, partition: 0, timestamp: -2 },
      { topic, partition: 1, timestamp: -1 },
    ]);
    expect(res).toEqual([
      { topic, partition: 0, offset: 0 },
      { topic, partition: 1, offset: 10 },
    ]);
    const byTime = kafka().real ? 4 : -1; // records 0..9 are 1 s apart: 3.5 s in, the first at or after it is #4
    expect(await c.offsetsForTimes([{ topic, partition: 0, timestamp: 1_700_000_003_500 }])).toEqual([{ topic, partition: 0, offset: byTime }]);
    await c.close();
  }, 60_000);

  test("lag is the high watermark minus the committed offset, per assigned partition", async () => {
    const topic = await topicWith(2, 40);
    const c = new Consumer({ config: consumerConfig(kafka().bootstraps, uniqueName("g")) });
    c.subscribe([topic]);
    await consumeN(c, 80);
    expect(await c.watermarks(topic, 0)).toEqual({ low: 0, high: 40 });
    await waitFor(() => c.cachedWatermarks(topic, 1)?.high === 40, { timeoutMs: 10_000, what: "cached watermark" });
    await c.commit([{ topic, partition: 0, offset: 25 }], { sync: true });
    const lag = (await c.lag()).sort((a, b) => a.partition - b.partition);
    expect(lag).toEqual([
      { topic, partition: 0, committed: 25, high: 40, lag: 15 },
      { topic, partition: 1, committed: -1001, high: 40, lag: 40 },
    ]);
    await c.close();
  }, 60_000);

  test("pause holds a partition back (buffered messages included) and resume delivers them in order", async () => {
    const topic = await topicWith(2, 200);
    const c = new Consumer({ config: consumerConfig(kafka().bootstraps, uniqueName("g")) });
    c.subscribe([topic]);
    // Wait for the assignment and for some of both partitions to be fetched.
    const firstBatch = await consumeN(c, 10);
    expect(firstBatch.length).toBe(10);
    c.pause([{ topic, partition: 1 }]);
    const whilePaused = await consumeN(c, 1000, 3000);
    expect(whilePaused.some((m) => m.partition === 1)).toBe(false);
    c.resume([{ topic, partition: 1 }]);
    const after = await consumeN(c, 400 - 10 - whilePaused.length, 20_000);
    const all = [...firstBatch, ...whilePaused, ...after];
    for (const p of [0, 1]) {
      const offsets = all.filter((m) => m.partition === p).map((m) => m.offset);
      expect(offsets).toEqual(Array.from({ length: 200 }, (_, i) => i));
    }
    expect(c.outstandingMessages).toBe(0);
    await c.close();
  }, 60_000);

  test("seek moves the position and discards what was buffered for the old one", async () => {
    const topic = await topicWith(1, 100);
    const c = new Consumer({ config: consumerConfig(kafka().bootstraps, uniqueName("g")) });
    c.subscribe([topic]);
    const head = await consumeN(c, 5);
    expect(head.map((m) => m.offset)).toEqual([0, 1, 2, 3, 4]);
    c.seek({ topic, partition: 0, offset: 90 });
    const rest = await consumeN(c, 10);
    expect(rest.map((m) => m.offset)).toEqual([90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
    await c.close();
  }, 60_000);

  test("a batch is destroyed exactly once: release is idempotent, and close releases what was left", async () => {
    const topic = await topicWith(1, 30);
    const c = new Consumer({ config: consumerConfig(kafka().bootstraps, uniqueName("g")) });
    c.subscribe([topic]);
    await waitFor(() => c.assignment().length === 1, { timeoutMs: 30_000, what: "assignment" });
    const first = await c.consume(10, 10_000);
    expect(first.messages.length).toBeGreaterThan(0);
    expect(c.outstandingMessages).toBeGreaterThanOrEqual(first.messages.length);
    first.release();
    const afterOne = c.outstandingMessages;
    first.release(); // no double destroy, no change
    expect(c.outstandingMessages).toBe(afterOne);
    const kept = await c.consume(5, 10_000);
    expect(kept.messages.length).toBeGreaterThan(0);
    expect(c.outstandingMessages).toBeGreaterThan(0);
    await c.close(); // releases `kept` and everything buffered
    expect(c.outstandingMessages).toBe(0);
    kept.release(); // still a no-op after close
    expect(c.outstandingMessages).toBe(0);
  }, 30_000);

  test("consume on a closed consumer, and a subscription to an invalid regex, fail with KafkaErrors", async () => {
    const c = new Consumer({ config: consumerConfig(kafka().bootstraps, uniqueName("g")) });
    expect(() => c.subscribe(["^(unclosed"])).toThrow(KafkaError);
    await c.close();
    await expect(c.consume(10, 10)).rejects.toMatchObject({ code: "CLOSED", domain: "kafka", retriable: false });
  }, 30_000);
});
