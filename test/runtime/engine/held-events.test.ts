/**
 * runPipeline with a stage that holds events (the engine side of the limit stage's `delay`): the rest of the
 * batch goes through the later stages at once, each release runs only the stages after the holder for the
 * released events, the engine is told how many are held, the batch settles only when none is, an abandoned
 * batch stops waiting, and Held events without a holding stage fail loudly. The limit stage itself on real
 * Redis and a real broker: test/stages/limit/.
 */
import { expect, test } from "bun:test";
import { runPipeline, type PipelineDeps } from "../../../shared/runtime/engine/batch-pipeline.ts";
import { EngineMetrics } from "../../../shared/runtime/engine/engine-metrics.ts";
import { Batch, EventStatus } from "../../../shared/stages/batch.ts";
import { packRecords } from "../../../shared/stages/records.ts";
import type { HoldingStage, Stage } from "../../../shared/stages/stage.ts";
import { createLogger } from "../../../shared/telemetry/logger.ts";
import { Metrics } from "../../../shared/telemetry/metrics.ts";

const idle = { async start() {}, async health() { return { ok: true }; }, async close() {} };

/** Holds odd offsets; releases one held event per `released` call, after `ms`. */
function holder(ms: number, hold = true): HoldingStage {
  return {
    ...idle,
    kind: "custom",
    name: "holder",
    holdBounds: { events: 100, batches: 10 },
    async process(batch) {
      if (hold) for (const i of batch.liveIndexes()) if (batch.records.offsets[i] % 2) batch.hold(i);
    },
    async released(batch, signal) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, ms);
        signal.addEventListener("abort", () => (clearTimeout(t), reject(signal.reason)), { once: true });
      });
      const i = batch.status.indexOf(EventStatus.Held);
      if (i >= 0) batch.unhold(i);
    },
  };
}

/** Persists every Live event and records which offsets it saw, per call. */
function sink(calls: number[][]): Stage {
  return {
    ...idle,
    kind: "custom",
    name: "sink",
    async process(batch) {
      calls.push(batch.liveIndexes().map((i) => batch.records.offsets[i]));
      for (const i of batch.liveIndexes()) batch.markPersisted(i);
    },
  };
}

function deps(stages: Stage[], held: number[]): PipelineDeps {
  return {
    stages,
    metrics: new EngineMetrics(new Metrics()),
    logger: createLogger({ level: "silent" }),
    workerId: 0,
    deadLetterTopic: "dlq",
    deadLetterMaxBytes: 1_000_000,
    produce: async () => undefined,
    onRetrying: () => {},
    onHeld: (_b, n) => held.push(n),
  };
}

const batchOf = (n: number) => new Batch(packRecords(Array.from({ length: n }, (_, i) => ({ topic: "t", partition: 0, offset: i, value: `v${i}` }))));

test("the rest of the batch goes on at once; each release runs the later stages for the released events only", async () => {
  const calls: number[][] = [];
  const held: number[] = [];
  const batch = batchOf(6);
  await runPipeline(batch, deps([holder(5), sink(calls)], held), new AbortController().signal);
  expect(calls).toEqual([[0, 2, 4], [1], [3], [5]]);
  expect(held).toEqual([3, 0, 2, 0, 1, 0]);
  expect(batch.count(EventStatus.Persisted)).toBe(6);
});

test("an abandoned batch stops waiting for its held events and fails (nothing of it is committed)", async () => {
  const calls: number[][] = [];
  const ac = new AbortController();
  const run = runPipeline(batchOf(4), deps([holder(60_000), sink(calls)], []), ac.signal);
  await Bun.sleep(20);
  ac.abort(new Error("revoked"));
  await expect(run).rejects.toThrow("revoked");
  expect(calls).toEqual([[0, 2]]);
});

test("Held events without a holding stage are a RUNTIME_STAGE_FAILED, not a hang", async () => {
  const rogue: Stage = { ...idle, kind: "custom", name: "rogue", async process(b) { b.hold(0); } };
  await expect(runPipeline(batchOf(2), deps([rogue, sink([])], []), new AbortController().signal)).rejects.toMatchObject({ code: "RUNTIME_STAGE_FAILED" });
});
