/**
 * Loss on the broker's side is never silent: retention deleting unread events, and a partition's log
 * moving backwards below the committed position, are found in the delivered offsets, counted in
 * `topofleet_skipped_offsets_total{reason}` and in the worker's progress (the summary's
 * `deleted_before_read`, `reset_backward`, `reread`), and the tracker commits again at once after a
 * backward reset. Runs on the mock cluster, or on the real broker when KAFKA_BROKERS is set.
 *
 * Staging "retention deleted unread events": test/support/retention.ts (mock: its 5 MiB partition limit;
 * real broker: DeleteRecords, which moves the log start offset exactly as retention does).
 */
import { describe, expect, test } from "bun:test";
import type { Readiness } from "../../../shared/runtime/engine/engine.ts";
import type { WorkerProgress } from "../../../shared/runtime/ipc.ts";
import { OffsetJumpDetector, type OffsetJump } from "../../../shared/runtime/engine/offset-jumps.ts";
import { M } from "../../../shared/telemetry/names.ts";
import { committedOffsets, kafkaSuite, pipelineTopics, produce, type TestKafka } from "../../../dev/support/kafka.ts";
import { commitOffset, deleteOldest } from "../../support/retention.ts";
import { FAST_GROUP, makeEngine, testStage, topologyFor, uniqueName } from "./support.ts";
import { waitFor } from "../../../dev/support/wait.ts";
import { observe } from "./fixtures/registry.ts";

const kafka = kafkaSuite();

/** Group settings: FAST_GROUP's short session is below a real broker's group.min.session.timeout.ms (6 s). */
const groupProps = (k: TestKafka): Record<string, string> => (k.real ? { ...FAST_GROUP, "session.timeout.ms": "6000" } : FAST_GROUP);

/** A fresh one-partition topic and its DLQ. */
const freshTopic = async (k: TestKafka): Promise<string> => (await pipelineTopics(k, 1, "jumps")).topic;

/** Runs an engine with a recording sink until the group's committed offset of partition 0 is `offset`, then stops it. */
async function consumeUntil(k: TestKafka, topic: string, group: string, offset: number, until: (p: WorkerProgress) => boolean = () => true) {
  const sink = uniqueName("sink");
  const { engine, metrics } = await makeEngine(topologyFor({ brokers: k.bootstraps, topic, group, stages: [testStage("recording-sink.ts", { id: sink })], properties: groupProps(k) }));
  await engine.start();
  let readiness: Readiness;
  try {
    await waitFor(async () => (await committedOffsets(k.bootstraps, group, topic, 1))[0] === offset && until(engine.progress()), { timeoutMs: 60_000, what: `commit of ${offset}`, everyMs: 200 });
    readiness = await engine.readiness();
  } catch (err) {
    await engine.stop(10_000);
    throw err;
  }
  // The final progress, as the worker reports it when it stops.
  const progress = await engine.stop(10_000);
  return { metrics, sink: observe(sink), progress, readiness };
}

describe("offset jumps on the broker's side", () => {
  test("events retention deleted before they were read are counted, logged and reported by readiness", async () => {
    const k = kafka();
    const topic = await freshTopic(k);
    const group = uniqueName("g");
    await produce(k.bootstraps, topic, 20, 1);
    await consumeUntil(k, topic, group, 20);
    // Unread: offsets 20.. are produced after the group's last commit, then the oldest of them deleted.
    const low = await deleteOldest(k, topic, 35);
    expect(low).toBeGreaterThan(20);
    const high = 80;

    const run = await consumeUntil(k, topic, group, high, (p) => p.deletedBeforeRead > 0);
    expect(run.progress.deletedBeforeRead).toBe(low - 20);
    expect(run.progress.resetBackward).toBe(0);
    expect(run.metrics.value(M.skippedOffsets, { topic, partition: 0, reason: "deleted_before_read" })).toBe(low - 20);
    expect(run.readiness.ready).toBe(false);
    expect(run.readiness.detail).toContain("KAFKA_OFFSETS_DELETED_BEFORE_READ");
    expect(run.readiness.detail).toContain(`offsets 20..${low - 1}`);
    // What was still there was delivered and committed: nothing re-read, nothing else skipped.
    expect(run.sink.events.map((e) => e.offset)).toEqual(Array.from({ length: high - low }, (_, i) => low + i));
    expect(run.progress.events).toBe(high - low);
  }, 120_000);

  test("a backward reset below the committed position resumes committing at once and counts the re-reads", async () => {
    const k = kafka();
    const topic = await freshTopic(k);
    const group = uniqueName("g");
    await produce(k.bootstraps, topic, 10, 1);
    // The group's position lies beyond the log's end: what a truncated log or a recreated topic looks like.
    await commitOffset(k, topic, group, 40, groupProps(k));

    const run = await consumeUntil(k, topic, group, 10);
    expect(run.progress.resetBackward).toBe(40);
    expect(run.progress.reread).toBe(10);
    expect(run.progress.deletedBeforeRead).toBe(0);
    expect(run.metrics.value(M.skippedOffsets, { topic, partition: 0, reason: "reset_backward" })).toBe(40);
    expect(run.metrics.value(M.rereadEvents, {})).toBe(10);
    // Committed and counted right away, not only once offsets pass the old position 40.
    expect(run.progress.events).toBe(10);
    expect((await committedOffsets(k.bootstraps, group, topic, 1))[0]).toBe(10);
    expect(run.readiness.ready).toBe(true);
  }, 120_000);
});

describe("OffsetJumpDetector classification", () => {
  const detector = (low: () => number) => {
    const jumps: OffsetJump[] = [];
    const d = new OffsetJumpDetector({ lowWatermark: async () => low(), report: (j) => jumps.push(j), reread: () => {}, queryFailed: () => {} });
    return { d, jumps };
  };
  const tp = { topic: "t", partition: 0 };

  test("holes the log start offset has not passed (compaction, transaction markers) are not losses", async () => {
    const { d, jumps } = detector(() => 0);
    d.assign(tp);
    d.committedAt(tp, 0);
    expect(d.observe(tp, [0, 1, 3, 4, 9])).toBe(false);
    await Bun.sleep(10);
    expect(jumps).toEqual([]);
  });

  test("holes count as deleted up to the log start offset, never beyond it", async () => {
    const { d, jumps } = detector(() => 100);
    d.assign(tp);
    d.committedAt(tp, 5);
    d.observe(tp, [50, 51, 120]);
    await Bun.sleep(10);
    expect(jumps.map((j) => [j.from, j.to, j.count])).toEqual([
      [5, 50, 45],
      [52, 100, 48],
    ]);
  });

  test("a first delivery before the committed offset is known is checked once it is", async () => {
    const { d, jumps } = detector(() => 30);
    d.assign(tp);
    d.observe(tp, [30, 31]);
    d.committedAt(tp, 10);
    await Bun.sleep(10);
    expect(jumps.map((j) => [j.reason, j.from, j.to])).toEqual([["deleted_before_read", 10, 30]]);
  });
});
