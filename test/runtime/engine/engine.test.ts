/**
 * The engine against the test Kafka (librdkafka's mock cluster, or the real broker named by KAFKA_BROKERS), with real test-stage modules (fixtures/) loaded
 * the way user stages are.
 */
import { describe, expect, test } from "bun:test";
import { Consumer } from "../../../shared/kafka/index.ts";
import { decodeTally } from "../../../shared/runtime/engine/partition-ledger.ts";
import { DLQ_HEADERS } from "../../../shared/runtime/engine/dead-letter.ts";
import { M } from "../../../shared/telemetry/names.ts";
import { observe } from "./fixtures/registry.ts";
import { OwnershipAudit, makeEngine, stuckStages, testStage, topologyFor, uniqueName } from "./support.ts";
import { committedOffsets, highWatermarks, kafkaSuite, pipelineTopics, produce, readTopic } from "../../../dev/support/kafka.ts";
import { waitFor } from "../../../dev/support/wait.ts";
import { DEFAULT_RETRY } from "../../../shared/topology/defaults.ts";

const kafka = kafkaSuite();

const decode = (b: Uint8Array | null | undefined) => (b ? new TextDecoder().decode(b) : null);

/** Every (partition, offset) a sink saw, as "p:o" strings. */
const seenKeys = (id: string) => observe(id).events.map((e) => `${e.partition}:${e.offset}`);

describe("engine", () => {
  test("every commit stores the partition's cumulative tally; the next owner starts from it", async () => {
    const { topic, group } = await pipelineTopics(kafka(), 2);
    await produce(kafka().bootstraps, topic, 600, 2);
    const stages = (id: string) => [testStage("recording-sink.ts", { id })];
    const first = await makeEngine(topologyFor({ brokers: kafka().bootstraps, topic, group, stages: stages(uniqueName("sink")), maxEvents: 100 }));
    await first.engine.start();
    await waitFor(() => first.engine.progress().events === 600, { timeoutMs: 60_000, what: "600 committed" });
    await first.engine.stop(10_000);
    const reader = new Consumer({ config: { "bootstrap.servers": kafka().bootstraps, "group.id": group } });
    const committed = await reader.committed([0, 1].map((partition) => ({ topic, partition }))).finally(() => reader.close());
    for (const c of committed) expect(decodeTally(c.metadata)).toEqual({ events: c.offset, persisted: c.offset, duplicates: 0, invalid: 0, filtered: 0 });

    // A second member of the group (a restart, or the next owner) reports those positions as its base.
    await produce(kafka().bootstraps, topic, 200, 2);
    const second = await makeEngine(topologyFor({ brokers: kafka().bootstraps, topic, group, stages: stages(uniqueName("sink")), maxEvents: 100 }));
    await second.engine.start();
    await waitFor(() => second.engine.progress().events === 200, { timeoutMs: 60_000, what: "200 more committed" });
    const parts = second.engine.progress().partitions!;
    await second.engine.stop(10_000);
    expect(parts.map((p) => p.base.tally.events).reduce((a, b) => a + b, 0)).toBe(600);
    expect(parts.map((p) => p.committed.tally.events).reduce((a, b) => a + b, 0)).toBe(800);
    for (const p of parts) expect(p.committed.offset).toBe(p.committed.tally.events);
  });

  test("fault points come through the options: the engine reports every batch past every stage to them", async () => {
    const { topic, group } = await pipelineTopics(kafka(), 1);
    await produce(kafka().bootstraps, topic, 300, 1);
    const passed: string[] = [];
    const stages = [testStage("recording-sink.ts", { id: uniqueName("sink") })];
    const { engine } = await makeEngine(topologyFor({ brokers: kafka().bootstraps, topic, group, stages, maxEvents: 100 }), {
      faults: { afterStage: (kind) => passed.push(kind) },
    });
    await engine.start();
    await waitFor(() => engine.progress().events === 300, { timeoutMs: 60_000, what: "300 committed" });
    await engine.stop(10_000);
    expect(passed.length).toBeGreaterThanOrEqual(3);
    expect(new Set(passed)).toEqual(new Set(["custom"]));
  });

  test("the topology's retry backoff paces the retries of a failing stage", async () => {
    const { topic, group } = await pipelineTopics(kafka(), 1);
    await produce(kafka().bootstraps, topic, 10, 1);
    const flaky = uniqueName("flaky");
    // Three failures, 600 ms apart: the default backoff (100 ms doubling, equal jitter) would be done in 700 ms.
    const retry = { ...DEFAULT_RETRY, backoff: { initialMs: 600, maxMs: 600, multiplier: 1, jitter: "none" as const } };
    const stages = [testStage("flaky-stage.ts", { id: flaky, failures: 3 }, "flaky"), testStage("recording-sink.ts", { id: uniqueName("sink") })];
    const { engine } = await makeEngine(topologyFor({ brokers: kafka().bootstraps, topic, group, stages, retry }));
    await engine.start();
    await waitFor(() => observe(flaky).failures >= 1, { timeoutMs: 30_000, what: "the first failure", everyMs: 5 });
    const firstFailure = performance.now();
    await waitFor(() => observe(flaky).calls >= 4, { timeoutMs: 30_000, what: "the attempt after the third failure", everyMs: 5 });
    const retried = performance.now() - firstFailure;
    await waitFor(() => engine.progress().events === 10, { timeoutMs: 30_000, what: "10 committed" });
    await engine.stop(10_000);
    expect(observe(flaky).failures).toBe(3);
    expect(retried).toBeGreaterThanOrEqual(3 * 600 - 50);
  });

  test("processes every event once and commits everything processed; shutdown commits and reports progress", async () => {
    const { topic, group } = await pipelineTopics(kafka(), 4);
    const n = 2_000;
    await produce(kafka().bootstraps, topic, n, 4);
    const sink = uniqueName("sink");
    const audit = new OwnershipAudit();
    const { engine, metrics } = await makeEngine(
      topologyFor({ brokers: kafka().bootstraps, topic, group, stages: [testStage("recording-sink.ts", { id: sink })], maxEvents: 300 }),
      { hooks: audit.hooks },
    );
    await engine.start();
    await waitFor(() => observe(sink).events.length >= n, { timeoutMs: 60_000, what: "all events processed" });
    // Lag comes from the binding every lagIntervalMs: per partition, and summed into progress.
    await waitFor(() => engine.progress().lag === 0 && metrics.total(M.consumerLag) === 0 && engine.progress().events === n, { timeoutMs: 20_000, what: "lag 0" });
    for (let p = 0; p < 4; p++) expect(metrics.value(M.consumerLag, { topic, partition: p })).toBe(0);
    expect(metrics.value(M.assignedPartitions)).toBe(4);
    const progress = await engine.stop(10_000);
    await expect(engine.finished).resolves.toEqual(progress);

    const seen = seenKeys(sink);
    expect(seen.length).toBe(n);
    expect(new Set(seen).size).toBe(n);
    expect(progress).toMatchObject({ events: n, persisted: n, duplicates: 0, invalid: 0 });
    const high = await highWatermarks(kafka(), topic, 4);
    expect(high.reduce((a, b) => a + b, 0)).toBe(n);
    expect(await committedOffsets(kafka().bootstraps, group, topic, 4)).toEqual(high);
    expect(audit.violations).toEqual([]);
    expect(observe(sink).closed).toBe(true);
    expect(metrics.value(M.sourceEvents)).toBe(n);
    expect(metrics.value(M.eventsIn, { stage: "recording-sink" })).toBe(n);
    expect(metrics.value(M.eventsOut, { stage: "recording-sink", outcome: "persisted" })).toBe(n);
    expect(metrics.value(M.commits)).toBeGreaterThan(0);
    expect(metrics.value(M.batchesInFlight)).toBe(0);
  }, 90_000);

  test("a retriable stage failure is retried with the partitions paused, nothing is committed meanwhile, then exact", async () => {
    const { topic, group } = await pipelineTopics(kafka(), 2);
    const n = 300;
    await produce(kafka().bootstraps, topic, n, 2);
    const flaky = uniqueName("flaky");
    const sink = uniqueName("sink");
    const failures = 4;
    const { engine, metrics } = await makeEngine(
      topologyFor({
        brokers: kafka().bootstraps,
        topic,
        group,
        stages: [testStage("flaky-stage.ts", { id: flaky, failures }, "flaky"), testStage("recording-sink.ts", { id: sink })],
        inFlight: 1,
      }),
      { backoff: { initialMs: 150, maxMs: 300 } },
    );
    await engine.start();
    let pausedSeen = 0;
    // While the stage keeps failing: no commit may exist, and the batch's partitions must be paused.
    while (observe(flaky).failures < failures) {
      pausedSeen = Math.max(pausedSeen, metrics.value(M.partitionsPaused));
      expect(observe(sink).events.length).toBe(0);
      await Bun.sleep(30);
    }
    expect(await committedOffsets(kafka().bootstraps, group, topic, 2)).toEqual([-1001, -1001]);
    await waitFor(() => observe(sink).events.length >= n, { timeoutMs: 60_000, what: "all events processed after recovery" });
    await waitFor(async () => (await committedOffsets(kafka().bootstraps, group, topic, 2)).join() === "150,150", { timeoutMs: 20_000, what: "commit after recovery" });
    const progress = await engine.stop(10_000);

    expect(pausedSeen).toBeGreaterThan(0);
    expect(metrics.value(M.partitionsPaused)).toBe(0);
    expect(metrics.total(M.stageRetries, { stage: "flaky", code: "PERSIST_CONNECTION" })).toBe(failures);
    expect(new Set(seenKeys(sink)).size).toBe(n);
    expect(seenKeys(sink).length).toBe(n);
    expect(progress).toMatchObject({ events: n, persisted: n });
  }, 90_000);

  test("rejected events go to the DLQ with the original bytes and every topofleet-* header, before the commit", async () => {
    const { topic, dlq, group } = await pipelineTopics(kafka(), 2);
    const n = 200;
    const every = 10;
    // Binary values with a 0xff byte and original headers, to prove the copy is byte for byte.
    await produce(kafka().bootstraps, topic, n, 2, (i) => ({
      value: new Uint8Array([0xff, i & 0xff, (i >> 8) & 0xff, 0x00]),
      key: `key-${i}`,
      headers: [["origin", `o${i}`]],
    }));
    const rej = uniqueName("rej");
    const sink = uniqueName("sink");
    const { engine, metrics } = await makeEngine(
      topologyFor({
        brokers: kafka().bootstraps,
        topic,
        group,
        dlq,
        stages: [testStage("rejecting-stage.ts", { id: rej, every }, "rejecter"), testStage("recording-sink.ts", { id: sink })],
      }),
      { workerId: 3 },
    );
    const t0 = Date.now();
    await engine.start();
    await waitFor(() => engine.progress().events >= n, { timeoutMs: 60_000, what: "all events committed" });
    const progress = await engine.stop(10_000);

    // Offsets 0, 10, 20, ... of each partition (100 records per partition).
    const expected = 2 * Math.ceil(n / 2 / every);
    expect(progress).toMatchObject({ events: n, invalid: expected, persisted: n - expected });
    const letters = await readTopic(kafka().bootstraps, dlq, expected);
    expect(letters.length).toBe(expected);
    for (const l of letters) {
      const h = (k: string) => decode(l.headers.get(k));
      const srcPartition = Number(h(DLQ_HEADERS.partition));
      const srcOffset = Number(h(DLQ_HEADERS.offset));
      expect(srcOffset % every).toBe(0);
      const i = srcOffset * 2 + srcPartition; // produce() is round-robin over 2 partitions
      expect([...l.value!]).toEqual([0xff, i & 0xff, (i >> 8) & 0xff, 0x00]);
      expect(decode(l.key)).toBe(`key-${i}`);
      expect(decode(l.headers.get("origin"))).toBe(`o${i}`);
      expect(h(DLQ_HEADERS.code)).toBe("TEST_REJECTED");
      expect(h(DLQ_HEADERS.reason)).toBe(`offset ${srcOffset} is a multiple of ${every}`);
      expect(h(DLQ_HEADERS.stage)).toBe("rejecter");
      expect(h(DLQ_HEADERS.topic)).toBe(topic);
      expect(h(DLQ_HEADERS.worker)).toBe("3");
      const failedAt = Date.parse(h(DLQ_HEADERS.failedAt)!);
      expect(failedAt).toBeGreaterThanOrEqual(t0 - 1000);
      expect(failedAt).toBeLessThanOrEqual(Date.now());
    }
    expect(new Set(letters.map((l) => `${decode(l.headers.get(DLQ_HEADERS.partition))}:${decode(l.headers.get(DLQ_HEADERS.offset))}`)).size).toBe(expected);
    expect(metrics.total(M.deadLettered, { stage: "rejecter", code: "TEST_REJECTED" })).toBe(expected);
    expect(metrics.value(M.eventsOut, { stage: "rejecter", outcome: "dead_lettered" })).toBe(expected);
    // The sink never saw a rejected event.
    expect(observe(sink).events.every((e) => e.offset % every !== 0)).toBe(true);
  }, 90_000);

  /** Runs `n` events through a one-batch-in-flight engine whose sink takes `delayMs` per batch; the most partitions seen paused. */
  async function backpressureRun(tag: string, n: number, delayMs: number, pauseAfterMs: number | undefined): Promise<{ maxPaused: number; sink: string }> {
    const { topic, group } = await pipelineTopics(kafka(), 2);
    await produce(kafka().bootstraps, topic, n, 2);
    const sink = uniqueName(tag);
    const { engine, metrics } = await makeEngine(
      topologyFor({ brokers: kafka().bootstraps, topic, group, stages: [testStage("recording-sink.ts", { id: sink, delayMs })], inFlight: 1, maxEvents: 50 }),
      { backpressurePauseAfterMs: pauseAfterMs },
    );
    await engine.start();
    let maxPaused = 0;
    while (observe(sink).events.length < n) {
      maxPaused = Math.max(maxPaused, metrics.value(M.partitionsPaused));
      await Bun.sleep(10);
    }
    await waitFor(() => engine.progress().events >= n, { timeoutMs: 20_000, what: "commits" });
    await waitFor(() => metrics.value(M.partitionsPaused) === 0, { timeoutMs: 5_000, what: "partitions resumed" });
    await engine.stop(10_000);
    expect(observe(sink).maxConcurrent).toBe(1);
    expect(new Set(seenKeys(sink)).size).toBe(n);
    expect(seenKeys(sink).length).toBe(n);
    return { maxPaused, sink };
  }

  test("backpressure: with one batch in flight the partitions are paused, then resumed, and everything is processed", async () => {
    const { maxPaused } = await backpressureRun("slow", 400, 60, 0);
    expect(maxPaused).toBe(2);
  }, 90_000);

  test("backpressure: blocks shorter than the pause delay never pause (no prefetch dropped), longer ones do", async () => {
    // 60 ms batches block the engine for 60 ms at a time, far below the default delay: nothing is paused.
    const short = await backpressureRun("brief", 400, 60, undefined);
    expect(short.maxPaused).toBe(0);
    // 1.2 s batches stay blocked past a 300 ms delay: every partition is paused, then resumed.
    const long = await backpressureRun("stuck", 150, 1_200, 300);
    expect(long.maxPaused).toBe(2);
  }, 90_000);

  test("pipelining: with several batches in flight a slow stage works on more than one batch at once", async () => {
    const { topic, group } = await pipelineTopics(kafka(), 4);
    const n = 800;
    await produce(kafka().bootstraps, topic, n, 4);
    const sink = uniqueName("pipe");
    const { engine } = await makeEngine(
      topologyFor({ brokers: kafka().bootstraps, topic, group, stages: [testStage("recording-sink.ts", { id: sink, delayMs: 80 })], inFlight: 4, maxEvents: 50 }),
    );
    await engine.start();
    await waitFor(() => engine.progress().events >= n, { timeoutMs: 60_000, what: "all committed" });
    await engine.stop(10_000);
    expect(observe(sink).maxConcurrent).toBeGreaterThan(1);
    expect(observe(sink).maxConcurrent).toBeLessThanOrEqual(4);
    expect(new Set(seenKeys(sink)).size).toBe(n);
    expect(await committedOffsets(kafka().bootstraps, group, topic, 4)).toEqual(await highWatermarks(kafka(), topic, 4));
  }, 90_000);

  test("batch limits: no batch exceeds maxEvents or maxBytes", async () => {
    const { topic, group } = await pipelineTopics(kafka(), 1);
    const n = 300;
    await produce(kafka().bootstraps, topic, n, 1, (i) => ({ value: "x".repeat(100), key: null }));
    const sink = uniqueName("sizes");
    const { engine, metrics } = await makeEngine(
      topologyFor({ brokers: kafka().bootstraps, topic, group, stages: [testStage("recording-sink.ts", { id: sink })], maxEvents: 40, maxBytes: 1_000 }),
    );
    await engine.start();
    await waitFor(() => engine.progress().events >= n, { timeoutMs: 60_000, what: "all committed" });
    await engine.stop(10_000);
    // 100-byte values and a 1000-byte limit: at most 10 per batch, so at least 30 batches.
    expect(observe(sink).calls).toBeGreaterThanOrEqual(30);
    expect(metrics.value(M.sourceEvents)).toBe(n);
    const offsets = observe(sink).events.map((e) => e.offset);
    expect(offsets).toEqual(Array.from({ length: n }, (_, i) => i)); // in order, none skipped
  }, 90_000);

  test("a non-retriable stage error stops the engine without committing; `finished` rejects with it", async () => {
    const { topic, group } = await pipelineTopics(kafka(), 1);
    await produce(kafka().bootstraps, topic, 50, 1);
    const flaky = uniqueName("fatal");
    const sink = uniqueName("sink");
    const { engine } = await makeEngine(
      topologyFor({
        brokers: kafka().bootstraps,
        topic,
        group,
        stages: [testStage("flaky-stage.ts", { id: flaky, fatal: true }), testStage("recording-sink.ts", { id: sink })],
      }),
    );
    await engine.start();
    const err = await engine.finished.then(
      () => null,
      (e) => e,
    );
    expect(err?.code).toBe("PERSIST_FATAL");
    expect(observe(sink).events.length).toBe(0);
    expect(observe(flaky).calls).toBe(1);
    expect(observe(sink).closed).toBe(true);
    expect(await committedOffsets(kafka().bootstraps, group, topic, 1)).toEqual([-1001]);
  }, 90_000);

  test("events still Live after the last stage are a fatal RUNTIME_STAGE_FAILED, never committed", async () => {
    const { topic, group } = await pipelineTopics(kafka(), 1);
    await produce(kafka().bootstraps, topic, 20, 1);
    const { engine } = await makeEngine(
      topologyFor({ brokers: kafka().bootstraps, topic, group, stages: [testStage("flaky-stage.ts", { id: uniqueName("pass"), failures: 0 })] }),
    );
    await engine.start();
    const err = await engine.finished.then(
      () => null,
      (e) => e,
    );
    expect(err?.code).toBe("RUNTIME_STAGE_FAILED");
    expect(String(err?.message)).toContain("still Live");
    expect(await committedOffsets(kafka().bootstraps, group, topic, 1)).toEqual([-1001]);
  }, 90_000);

  test("readiness: ready after joining with healthy stages; not ready once stopped", async () => {
    const { topic, group } = await pipelineTopics(kafka(), 1);
    const { engine } = await makeEngine(
      topologyFor({ brokers: kafka().bootstraps, topic, group, stages: [testStage("recording-sink.ts", { id: uniqueName("rd") })] }),
    );
    expect((await engine.readiness()).ready).toBe(false);
    await engine.start();
    await waitFor(() => engine.hasJoined, { timeoutMs: 30_000, what: "group join" });
    expect(await engine.readiness()).toEqual({ ready: true });
    expect(engine.assignment()).toEqual([{ topic, partition: 0 }]);
    // A second member of a one-partition group gets nothing: ready, but idle (a hot standby).
    const second = await makeEngine(
      topologyFor({ brokers: kafka().bootstraps, topic, group, stages: [testStage("recording-sink.ts", { id: uniqueName("rd2") })] }),
      { workerId: 1 },
    );
    await second.engine.start();
    await waitFor(() => second.engine.hasJoined, { timeoutMs: 30_000, what: "second member joined" });
    const idle = await second.engine.readiness();
    expect(idle.ready).toBe(true);
    expect(idle.detail).toContain("idle");
    expect(second.engine.assignment()).toEqual([]);
    await second.engine.stop(5_000);
    await engine.stop(5_000);
    expect((await engine.readiness()).ready).toBe(false);
  }, 90_000);

  test("shutdown lets in-flight batches finish and commits them synchronously", async () => {
    const { topic, group } = await pipelineTopics(kafka(), 2);
    const n = 400;
    await produce(kafka().bootstraps, topic, n, 2);
    const sink = uniqueName("drain");
    const { engine } = await makeEngine(
      topologyFor({ brokers: kafka().bootstraps, topic, group, stages: [testStage("recording-sink.ts", { id: sink, delayMs: 400 })], inFlight: 2, maxEvents: 50 }),
    );
    await engine.start();
    // Stop while the first batches are still inside the (slow) stage: nothing is committed yet.
    await waitFor(() => observe(sink).running > 0, { timeoutMs: 30_000, what: "a batch in the stage" });
    expect(engine.progress().events).toBe(0);
    const progress = await engine.stop(10_000);
    const seen = observe(sink).events;
    expect(observe(sink).running).toBe(0);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.length).toBeLessThan(n);
    expect(progress.events).toBe(seen.length);
    // What was processed is exactly what is committed: per partition, the end of the processed prefix.
    const end = [0, 1].map((p) => Math.max(-1, ...seen.filter((e) => e.partition === p).map((e) => e.offset)) + 1);
    for (const p of [0, 1]) expect(seen.filter((e) => e.partition === p).length).toBe(end[p]);
    const committed = await committedOffsets(kafka().bootstraps, group, topic, 2);
    expect(committed.map((c) => Math.max(0, c))).toEqual(end);
  }, 90_000);

  test("a batch that cannot finish by the shutdown deadline is abandoned uncommitted and stop() still returns in time", async () => {
    const { topic, group } = await pipelineTopics(kafka(), 1);
    await produce(kafka().bootstraps, topic, 30, 1);
    const stuck = uniqueName("stuck");
    const { engine, metrics } = await makeEngine(
      topologyFor({
        brokers: kafka().bootstraps,
        topic,
        group,
        stages: stuckStages(stuck),
        inFlight: 1,
      }),
      { backoff: { initialMs: 50, maxMs: 100 } },
    );
    await engine.start();
    await waitFor(() => observe(stuck).failures >= 3, { timeoutMs: 30_000, what: "the stage failing" });
    const t0 = Date.now();
    const progress = await engine.stop(2_000);
    expect(Date.now() - t0).toBeLessThan(4_000);
    expect(progress.events).toBe(0);
    expect(metrics.value(M.batchesAbandoned)).toBe(1);
    await expect(engine.finished).resolves.toEqual(progress);
    expect(await committedOffsets(kafka().bootstraps, group, topic, 1)).toEqual([-1001]);
  }, 90_000);
});
