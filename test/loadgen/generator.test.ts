/**
 * runGenerator against librdkafka's in-process mock cluster: the manifest matches what the topic holds,
 * message for message, and the token bucket holds the target rate.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { MockCluster, Producer } from "../../shared/kafka/index.ts";
import { HEADER_INVALID, parseUniqueId, readManifest, runGenerator, type InvalidKind } from "../../shared/loadgen/index.ts";
import { readWholeTopic } from "../../shared/topic-reader/topic.ts";
import { uniqueName } from "../../dev/support/services.ts";
import { tempDir } from "../../dev/support/temp-dir.ts";

const decoder = new TextDecoder();

/** What the topic really holds, recounted from the bytes. */
async function recount(brokers: string, topic: string, runId: string) {
  const seen = new Map<number, string>(); // n -> value of the first copy
  let messages = 0;
  let copies = 0;
  let differingCopies = 0;
  const invalid: Record<string, number> = {};
  const { watermarks } = await readWholeTopic({
    config: { "bootstrap.servers": brokers },
    topic,
    onBatch: (ms) => {
      for (const m of ms) {
        messages++;
        const kind = m.headers?.find(([k]) => k === HEADER_INVALID)?.[1];
        if (kind) {
          const k = decoder.decode(kind);
          invalid[k] = (invalid[k] ?? 0) + 1;
          continue;
        }
        const value = decoder.decode(m.value!);
        const ceId = m.headers?.find(([k]) => k === "ce_id")?.[1];
        const id = ceId ? decoder.decode(ceId) : (JSON.parse(value).id as string);
        const n = parseUniqueId(runId, id);
        expect(n).not.toBeNull();
        const first = seen.get(n!);
        if (first === undefined) seen.set(n!, value);
        else {
          copies++;
          if (first !== value) differingCopies++;
        }
      }
    },
  });
  // The mock keeps 5 MiB per partition and deletes older messages silently: a recount that started above
  // offset 0 would blame the generator for the mock's retention.
  expect(watermarks.filter((w) => w.low > 0)).toEqual([]);
  return { messages, unique: seen, copies, differingCopies, invalid };
}

describe("runGenerator on the mock cluster", () => {
  let mock: MockCluster;
  let producer: Producer;
  let dir: string;

  beforeAll(async () => {
    mock = await MockCluster.start({ brokers: 1 });
    // Sticky partitioning off: keyless events spread over every partition instead of filling one for a
    // linger window, which on a quiet machine put a whole run on one mock partition (5 MiB, then deletions).
    producer = new Producer({
      config: { "bootstrap.servers": mock.bootstraps, "enable.idempotence": "true", "linger.ms": "5", "sticky.partitioning.linger.ms": "0" },
    });
    dir = tempDir("loadgen").dir;
  });
  afterAll(async () => {
    await producer.close();
    await mock.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the manifest is exact: unique ids 0..n-1, duplicates as byte copies, invalid per kind", async () => {
    const topic = uniqueName("lg_manifest");
    // ~10 MB of keyless events: even spread, 16 partitions keep every one far below the mock's 5 MiB.
    mock.createTopic(topic, 16);
    const file = join(dir, "m.json");
    const config = { rate: 0, events: 20_000, tenants: 5, duplicateRatio: 0.05, invalidRatio: 0.03, binaryRatio: 0.3, payloadBytes: 100 };
    const r = await runGenerator({ producer, topic, config, seed: 1, manifest: file, key: "none" });
    const m = r.manifest;
    expect(m.complete).toBe(true);
    expect(m.messages).toBe(20_000);
    expect(await readManifest(file)).toEqual(m);

    const got = await recount(mock.bootstraps, topic, m.runId);
    expect(got.messages).toBe(m.messages);
    expect(got.unique.size).toBe(m.unique);
    for (let n = 0; n < m.unique; n++) expect(got.unique.has(n)).toBe(true);
    expect(got.copies).toBe(m.duplicates);
    expect(got.differingCopies).toBe(0);
    expect(got.invalid as Record<InvalidKind, number>).toEqual(m.invalid.byKind);
    // ratios within tolerance of the configuration
    expect(Math.abs(m.duplicates / m.messages - 0.05)).toBeLessThan(0.01);
    expect(Math.abs(m.invalid.total / m.messages - 0.03)).toBeLessThan(0.01);
  }, 60_000);

  test("an aborted run still writes an exact, complete manifest of what was acknowledged", async () => {
    const topic = uniqueName("lg_abort");
    mock.createTopic(topic, 2);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 700);
    const config = { rate: 5000, events: null, tenants: 3, duplicateRatio: 0.1, invalidRatio: 0.05, binaryRatio: 0, payloadBytes: 50 };
    const r = await runGenerator({ producer, topic, config, signal: ac.signal });
    expect(r.manifest.complete).toBe(true);
    expect(r.manifest.messages).toBeGreaterThan(0);
    const got = await recount(mock.bootstraps, topic, r.manifest.runId);
    expect(got.messages).toBe(r.manifest.messages);
    expect(got.unique.size).toBe(r.manifest.unique);
  }, 60_000);

  test("a failed delivery rejects with LOADGEN_DELIVERY_FAILED and marks the manifest incomplete", async () => {
    const file = join(dir, "failed.json");
    // A partition that does not exist: librdkafka fails those records at produce time.
    const topic = uniqueName("lg_fail");
    mock.createTopic(topic, 1);
    const broken = { sendBatch: (records: readonly import("../../shared/kafka/types.ts").ProduceRecord[]) => producer.sendBatch(records.map((r) => ({ ...r, partition: 7 }))) };
    const config = { rate: 0, events: 100, tenants: 1, duplicateRatio: 0, invalidRatio: 0, binaryRatio: 0, payloadBytes: 10 };
    const err = await runGenerator({ producer: broken, topic, config, manifest: file }).catch((e) => e);
    expect(err.code).toBe("LOADGEN_DELIVERY_FAILED");
    expect(err.retriable).toBe(true);
    expect((await readManifest(file)).complete).toBe(false);
  }, 60_000);

  test("holds the target rate within 5% over 10 s (produced count vs elapsed)", async () => {
    const topic = uniqueName("lg_rate");
    mock.createTopic(topic, 4);
    const rate = 3000;
    const config = { rate, events: null, tenants: 8, duplicateRatio: 0.02, invalidRatio: 0.01, binaryRatio: 0.1, payloadBytes: 200 };
    const samples: Array<{ at: number; n: number }> = [];
    const r = await runGenerator({ producer, topic, config, durationMs: 10_000, onProgress: (p) => samples.push({ at: p.elapsedMs, n: p.messages }) });
    // Over the whole run: the bucket may only lose time it cannot catch up (stalls > 100 ms).
    const achieved = (r.manifest.messages * 1000) / 10_000;
    expect(Math.abs(achieved - rate) / rate).toBeLessThan(0.05);
    // Steady, not bursty: no one-second window holds more than a second's worth plus the bucket's 100 ms.
    for (const s of samples) {
      const back = samples.filter((x) => x.at >= s.at - 1000 && x.at <= s.at);
      const inWindow = back.at(-1)!.n - back[0].n;
      expect(inWindow).toBeLessThanOrEqual(rate * 1.1 + 60);
    }
  }, 30_000);
});
