/**
 * readRanges reports the part of a planned range that retention deleted before it was read (what a replay
 * then counts as `deleted_before_read` and exits 1 for), and reads the rest. Staged on the mock cluster,
 * whose partitions keep at most 5 MiB and delete the oldest messages on every append (the engine's
 * offset-jump tests cover the real broker).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Consumer, MockCluster } from "../../shared/kafka/index.ts";
import { readRanges } from "../../shared/topic-reader/range-reader.ts";
import type { OffsetJump } from "../../shared/runtime/engine/offset-jumps.ts";
import { FAST_GROUP, uniqueName } from "../runtime/engine/support.ts";
import { produce } from "../../dev/support/kafka.ts";

let mock: MockCluster;
beforeAll(async () => {
  mock = await MockCluster.start({ brokers: 1 });
});
afterAll(async () => {
  await mock.stop();
});

test("a range partly deleted by retention before it is read: the deleted offsets are reported, the rest delivered", async () => {
  const topic = uniqueName("range");
  mock.createTopic(topic, 1);
  await produce(mock.bootstraps, topic, 10, 1);
  // Planned while all of it exists: offsets 0..69.
  const big = "x".repeat(100 * 1024);
  const ranges = [{ partition: 0, start: 0, end: 70 }];
  // 6 MiB more than one mock partition keeps: the oldest messages go before anyone reads them.
  await produce(mock.bootstraps, topic, 60, 1, () => ({ value: big, key: null }));
  const { low, high } = await mock.watermarks(topic, 0);
  expect(high).toBe(70);
  expect(low).toBeGreaterThan(10);

  const consumer = new Consumer({ config: { "bootstrap.servers": mock.bootstraps, "group.id": uniqueName("g"), "auto.offset.reset": "earliest", ...FAST_GROUP } });
  const jumps: OffsetJump[] = [];
  const offsets: number[] = [];
  try {
    consumer.subscribe([topic]);
    const delivered = await readRanges({ consumer, topic, ranges, onBatch: (ms) => void offsets.push(...ms.map((m) => m.offset)), onJump: (j) => jumps.push(j), stallTimeoutMs: 30_000 });
    expect(delivered).toBe(high - low);
  } finally {
    await consumer.close();
  }
  expect(offsets[0]).toBe(low);
  expect(jumps).toEqual([{ topic, partition: 0, reason: "deleted_before_read", from: 0, to: low, count: low }]);
}, 60_000);
