/**
 * runPipeline's dead-letter step with delivery failures injected at the producer seam (a real mock-cluster
 * outage cannot be made to fail deliveries quickly and deterministically: librdkafka keeps retrying for
 * message.timeout.ms). The happy path with the real producer is covered in engine.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { KafkaError } from "../../../shared/kafka/errors.ts";
import type { ProduceRecord } from "../../../shared/kafka/types.ts";
import { DEAD_LETTER_STEP, runPipeline, type PipelineDeps } from "../../../shared/runtime/engine/batch-pipeline.ts";
import { DEAD_LETTER_HEADROOM_BYTES, deadLetterMaxBytes, deadLetterRecords, DLQ_HEADERS, MAX_REASON_BYTES, recordBytes, truncateUtf8 } from "../../../shared/runtime/engine/dead-letter.ts";
import { EngineMetrics } from "../../../shared/runtime/engine/engine-metrics.ts";
import { Batch, EventStatus } from "../../../shared/stages/batch.ts";
import { packRecords } from "../../../shared/stages/records.ts";
import type { Stage } from "../../../shared/stages/stage.ts";
import { createLogger } from "../../../shared/telemetry/logger.ts";
import { Metrics } from "../../../shared/telemetry/metrics.ts";
import { M } from "../../../shared/telemetry/names.ts";
import { RETRY_BACKOFF } from "../../../shared/runtime/engine/budgets.ts";

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
    deadLetterMaxBytes: 1_000_000,
    backoff: { ...RETRY_BACKOFF, initialMs: 1, maxMs: 2 },
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

const tooLarge = (indexes: number[]) =>
  new KafkaError("DELIVERY_FAILED", "some records failed", {
    retriable: true,
    failures: indexes.map((index) => ({ index, error: new KafkaError("MSG_SIZE_TOO_LARGE", "Broker: Message size too large", { retriable: false }) })),
  });

const headerOf = (r: ProduceRecord, name: string) => {
  const v = r.headers?.find(([k]) => k === name)?.[1];
  return v instanceof Uint8Array ? new TextDecoder().decode(v) : (v ?? null);
};

describe("dead letters that do not fit", () => {
  test("a record the broker refuses as too large is resent as a reference with its size and SHA-256", async () => {
    const sent: ProduceRecord[][] = [];
    const { deps, batch } = setup(async (records) => {
      sent.push(records);
      if (sent.length === 1) throw tooLarge([1]);
    });
    await runPipeline(batch, deps, new AbortController().signal);
    expect(sent.length).toBe(2);
    const [ref] = sent[1];
    expect(headerOf(ref, DLQ_HEADERS.offset)).toBe("2");
    expect(headerOf(ref, DLQ_HEADERS.code)).toBe("EVEN");
    expect(headerOf(ref, DLQ_HEADERS.originalBytes)).toBe("2");
    expect(headerOf(ref, DLQ_HEADERS.originalSha256)).toBe(createHash("sha256").update("v2").digest("hex"));
    expect(JSON.parse(ref.value as string)).toMatchObject({ originalBytes: 2 });
    expect(batch.count(EventStatus.DeadLettered)).toBe(3);
  });

  test("a reference refused too stops the batch's partitions with a clear problem, cleared when it goes through", async () => {
    const problems: Array<string | null> = [];
    let calls = 0;
    const { deps, batch } = setup(async () => {
      calls++;
      if (calls <= 3) throw tooLarge([0]);
    });
    deps.onDeadLetterStuck = (_b, p) => problems.push(p);
    await runPipeline(batch, deps, new AbortController().signal);
    expect(calls).toBe(4);
    // The first refusal turns the record into a reference; the next two refuse the reference itself.
    expect(problems.length).toBe(3);
    expect(problems[0]).toContain("refused as too large even as a reference");
    expect(problems[0]).toContain("t/0@0");
    expect(problems.at(-1)).toBeNull();
  });

  test("records over the producer's limit are fitted before sending; the reason header is bounded", () => {
    const big = "x".repeat(50_000);
    const b = new Batch(packRecords([{ topic: "src", partition: 0, offset: 9, key: "k", value: big, headers: [["h", new TextEncoder().encode("v")]] }]));
    b.reject(0, { stage: "enrich", code: "CE_BAD_JSON", reason: `value is not valid JSON: ${big}` });
    const [whole] = deadLetterRecords(b, "dlq", 0, 1_000_000);
    expect((whole.value as Uint8Array).byteLength).toBe(50_000);
    expect(Buffer.byteLength(headerOf(whole, DLQ_HEADERS.reason)!)).toBeLessThanOrEqual(MAX_REASON_BYTES);
    expect(headerOf(whole, DLQ_HEADERS.reason)!.endsWith("…")).toBe(true);
    const [fitted] = deadLetterRecords(b, "dlq", 0, 20_000);
    expect(recordBytes(fitted)).toBeLessThanOrEqual(20_000);
    expect(headerOf(fitted, DLQ_HEADERS.originalBytes)).toBe("50000");
    expect(headerOf(fitted, "h")).toBe("v");
  });

  test("the producer's message.max.bytes follows maxEventBytes, never below librdkafka's default", () => {
    expect(deadLetterMaxBytes(1024)).toBe(1_000_000);
    expect(deadLetterMaxBytes(4 << 20)).toBe((4 << 20) + DEAD_LETTER_HEADROOM_BYTES);
  });

  test("truncateUtf8 cuts on a character boundary", () => {
    expect(truncateUtf8("ééé", 5)).toBe("é…");
    expect(truncateUtf8("short", 100)).toBe("short");
  });
});
