/**
 * runPipeline's dead-letter step with delivery failures injected at the producer seam (a real mock-cluster
 * outage cannot be made to fail deliveries quickly and deterministically: librdkafka keeps retrying for
 * message.timeout.ms). The happy path with the real producer is covered in engine.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { KafkaError } from "../../../shared/kafka/errors.ts";
import type { ProduceRecord } from "../../../shared/kafka/types.ts";
import { DEAD_LETTER_STEP, runPipeline, type PipelineDeps } from "../../../shared/runtime/engine/batch-pipeline.ts";
import { EngineMetrics } from "../../../shared/runtime/engine/engine-metrics.ts";
import { Batch, EventStatus } from "../../../shared/stages/batch.ts";
import { packRecords } from "../../../shared/stages/records.ts";
import type { Stage } from "../../../shared/stages/stage.ts";
import { createLogger } from "../../../shared/telemetry/logger.ts";
import { Metrics } from "../../../shared/telemetry/metrics.ts";
import { M } from "../../../shared/telemetry/names.ts";

/** A stage that rejects even offsets and persists the rest. */
const evenRejecter: Stage = {
  kind: "custom",
  name: "even",
  async start() {},
  async process(batch) {
    for (const i of batch.liveIndexes()) {
      if (batch.records.offsets[i] % 2 === 0) batch.reject(i, { stage: "even", code: "EVEN", reason: "even offset" });
      else batch.markPersisted(i);
    }
  },
  async health() {
    return { ok: true };
  },
  async close() {},
};

function setup(produce: (records: ProduceRecord[]) => Promise<unknown>) {
  const metrics = new Metrics();
  const retrying: boolean[] = [];
  const deps: PipelineDeps = {
    stages: [evenRejecter],
    metrics: new EngineMetrics(metrics),
    logger: createLogger({ level: "silent" }),
    workerId: 0,
    deadLetterTopic: "dlq",
    backoff: { baseMs: 1, capMs: 2 },
    produce,
    onRetrying: (_b, on) => retrying.push(on),
  };
  const batch = new Batch(packRecords(Array.from({ length: 6 }, (_, i) => ({ topic: "t", partition: 0, offset: i, value: `v${i}` }))));
  return { deps, batch, metrics, retrying };
}

const deliveryFailed = (indexes: number[], fatal = false) =>
  new KafkaError("DELIVERY_FAILED", "some records failed", {
    retriable: !fatal,
    fatal,
    failures: indexes.map((index) => ({ index, error: new KafkaError("_MSG_TIMED_OUT", "timed out", { retriable: true }) })),
  });

describe("runPipeline dead letters", () => {
  test("a partial delivery failure is retried for the failed records only; the batch settles only after", async () => {
    const sent: string[][] = [];
    const { deps, batch, metrics, retrying } = setup(async (records) => {
      sent.push(records.map((r) => new TextDecoder().decode(r.value as Uint8Array)));
      if (sent.length === 1) throw deliveryFailed([1]); // v2 failed, v0 and v4 were acknowledged
      if (sent.length === 2) throw new KafkaError("_TRANSPORT", "broker down", { retriable: true });
    });
    await runPipeline(batch, deps, new AbortController().signal);
    expect(sent).toEqual([["v0", "v2", "v4"], ["v2"], ["v2"]]);
    expect(metrics.total(M.stageRetries, { stage: DEAD_LETTER_STEP, code: "RUNTIME_DLQ_FAILED" })).toBe(2);
    expect(metrics.total(M.deadLettered, { stage: "even", code: "EVEN" })).toBe(3);
    expect(retrying).toEqual([true, false]); // partitions paused while retrying, resumed after
    expect(batch.count(EventStatus.DeadLettered)).toBe(3);
  });

  test("a fatal producer error is not retried: the batch fails (the worker restarts with a new producer)", async () => {
    let calls = 0;
    const { deps, batch } = setup(async () => {
      calls++;
      throw deliveryFailed([0], true);
    });
    const err = await runPipeline(batch, deps, new AbortController().signal).catch((e) => e);
    expect(err.code).toBe("RUNTIME_DLQ_FAILED");
    expect(err.retriable).toBe(false);
    expect(calls).toBe(1);
  });

  test("an abandoned batch stops retrying its dead letters", async () => {
    const ac = new AbortController();
    const { deps, batch } = setup(async () => {
      ac.abort();
      throw deliveryFailed([0]);
    });
    const err = await runPipeline(batch, deps, ac.signal).catch((e) => e);
    expect(err.code).toBe("RUNTIME_SHUTDOWN_TIMEOUT");
  });
});
