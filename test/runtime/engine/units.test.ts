/** Unit tests of the engine's small pure parts (the Kafka-facing behaviour is in engine.test.ts). */
import { describe, expect, test } from "bun:test";
import { ConfigError, PersistError, RuntimeError } from "../../../shared/errors/index.ts";
import type { TopicPartition } from "../../../shared/kafka/types.ts";
import { DLQ_HEADERS, deadLetterRecords } from "../../../shared/runtime/engine/dead-letter.ts";
import { InFlightBatches, type InFlightBatch } from "../../../shared/runtime/engine/in-flight.ts";
import { applyLaunchOverrides, consumerConfig, deadLetterProducerConfig, sourceBrokers } from "../../../shared/runtime/engine/kafka-config.ts";
import { ALL_PARTITIONS, PauseController } from "../../../shared/runtime/engine/pause-controller.ts";
import { retrying } from "../../../shared/runtime/engine/retry.ts";
import { RETRY_BACKOFF } from "../../../shared/runtime/engine/budgets.ts";
import { Batch } from "../../../shared/stages/batch.ts";
import { packRecords } from "../../../shared/stages/records.ts";
import type { ResolvedTopology } from "../../../shared/topology/types.ts";

const tp = (partition: number): TopicPartition => ({ topic: "t", partition });

/** Records the pause/resume calls the controller makes (the consumer's side is tested in engine.test.ts). */
class CallLog {
  calls: string[] = [];
  pause(tps: TopicPartition[]) {
    this.calls.push(`pause ${tps.map((x) => x.partition).join(",")}`);
  }
  resume(tps: TopicPartition[]) {
    this.calls.push(`resume ${tps.map((x) => x.partition).join(",")}`);
  }
}

describe("PauseController", () => {
  test("backpressure pauses every assigned partition, release resumes them", () => {
    const log = new CallLog();
    const counts: number[] = [];
    const pc = new PauseController(log, (n) => counts.push(n));
    pc.addAssigned([tp(0), tp(1)]);
    pc.hold("bp", ALL_PARTITIONS);
    expect(pc.pausedCount).toBe(2);
    pc.release("bp");
    // The first resume clears any pause librdkafka kept from an earlier assignment of the same partitions.
    expect(log.calls).toEqual(["resume 0,1", "pause 0,1", "resume 0,1"]);
    expect(counts.at(-1)).toBe(0);
    expect(Math.max(...counts)).toBe(2);
  });

  test("overlapping reasons: a partition resumes only when no reason holds it", () => {
    const log = new CallLog();
    const pc = new PauseController(log);
    pc.addAssigned([tp(0), tp(1), tp(2)]);
    pc.hold("retry:1", [tp(1)]);
    pc.hold("bp", ALL_PARTITIONS);
    pc.release("bp");
    expect(pc.isPaused(tp(1))).toBe(true);
    expect(pc.isPaused(tp(0))).toBe(false);
    pc.release("retry:1");
    expect(log.calls).toEqual(["resume 0,1,2", "pause 1", "pause 0,2", "resume 0,2", "resume 1"]);
  });

  test("partitions assigned during backpressure are paused at once; revoked ones are forgotten without resume", () => {
    const log = new CallLog();
    const pc = new PauseController(log);
    pc.addAssigned([tp(0)]);
    pc.hold("bp", ALL_PARTITIONS);
    pc.addAssigned([tp(1)]);
    pc.removeRevoked([tp(0)]);
    pc.release("bp");
    // 1 was assigned during backpressure: paused at once, no resume until the release.
    expect(log.calls).toEqual(["resume 0", "pause 0", "pause 1", "resume 1"]);
    expect(pc.pausedCount).toBe(0);
  });

  test("a partition revoked while paused and assigned again is resumed (librdkafka keeps the pause flag)", () => {
    const log = new CallLog();
    const pc = new PauseController(log);
    pc.addAssigned([tp(0)]);
    pc.hold("bp", ALL_PARTITIONS);
    pc.removeRevoked([tp(0)]);
    pc.release("bp");
    pc.addAssigned([tp(0)]);
    expect(log.calls).toEqual(["resume 0", "pause 0", "resume 0"]);
    expect(pc.isPaused(tp(0))).toBe(false);
  });
});

describe("InFlightBatches", () => {
  const entry = (partitions: string[]): InFlightBatch => ({
    batch: new Batch(packRecords([{ topic: "t", partition: 0, offset: 0, value: "v" }])),
    segments: [],
    partitions: new Set(partitions),
    abort: new AbortController(),
    abandoned: false,
    settled: Promise.resolve(),
  });

  test("overflowing the limit is a typed RUNTIME_QUEUE_FULL error", () => {
    const q = new InFlightBatches(1);
    q.add(entry(["a"]));
    expect(q.full).toBe(true);
    try {
      q.add(entry(["b"]));
      throw new Error("expected RUNTIME_QUEUE_FULL");
    } catch (err) {
      expect(err).toBeInstanceOf(RuntimeError);
      expect((err as RuntimeError).code).toBe("RUNTIME_QUEUE_FULL");
      expect((err as RuntimeError).retriable).toBe(false);
    }
    expect(q.size).toBe(1);
  });

  test("touching() finds batches by partition; delete() wakes waiters", async () => {
    const q = new InFlightBatches(3);
    const a = entry(["p0", "p1"]);
    const b = entry(["p2"]);
    q.add(a);
    q.add(b);
    expect(q.touching(new Set(["p1"]))).toEqual([a]);
    const woke = q.changed().then(() => "woke");
    q.delete(a);
    expect(await woke).toBe("woke");
    expect(q.all()).toEqual([b]);
  });
});

describe("retrying", () => {
  const fast = { ...RETRY_BACKOFF, initialMs: 1, maxMs: 2 };

  test("retries retriable errors until success and reports recovery", async () => {
    let n = 0;
    const retries: number[] = [];
    let recovered = -1;
    const out = await retrying(
      "op",
      async () => {
        if (n++ < 3) throw new PersistError("PERSIST_TRANSIENT", "busy", { retriable: true });
        return "ok";
      },
      { backoff: fast, onRetry: (_e, attempt) => retries.push(attempt), onRecovered: (a) => (recovered = a) },
    );
    expect(out).toBe("ok");
    expect(retries).toEqual([0, 1, 2]);
    expect(recovered).toBe(3);
  });

  test("non-retriable and unknown errors are rethrown at once", async () => {
    let calls = 0;
    const fatal = new PersistError("PERSIST_FATAL", "no", { retriable: false });
    await expect(retrying("op", async () => (calls++, Promise.reject(fatal)), { backoff: fast })).rejects.toBe(fatal);
    const plain = new Error("plain");
    await expect(retrying("op", async () => (calls++, Promise.reject(plain)), { backoff: fast })).rejects.toBe(plain);
    expect(calls).toBe(2);
  });

  test("an abort during backoff ends the loop with an abandoned RuntimeError", async () => {
    const ac = new AbortController();
    const p = retrying("op", async () => Promise.reject(new PersistError("PERSIST_CONNECTION", "down", { retriable: true })), {
      signal: ac.signal,
      backoff: { ...RETRY_BACKOFF, initialMs: 60_000, maxMs: 60_000 },
    });
    setTimeout(() => ac.abort(), 20);
    const err = await p.catch((e) => e);
    expect(err).toBeInstanceOf(RuntimeError);
    expect(err.code).toBe("RUNTIME_SHUTDOWN_TIMEOUT");
    expect(err.context.abandoned).toBe(true);
  });
});

describe("deadLetterRecords", () => {
  test("original key, value and headers plus every topofleet-* header", () => {
    const value = new Uint8Array([0, 1, 2, 255]);
    const b = new Batch(
      packRecords([
        { topic: "src", partition: 3, offset: 41, value: "fine" },
        { topic: "src", partition: 3, offset: 42, key: "k1", value, headers: [["h1", new TextEncoder().encode("v1")], ["h2", null]] },
      ]),
    );
    b.reject(1, { stage: "enrich", code: "CE_BAD_JSON", reason: "unexpected token" });
    const at = new Date("2025-01-02T03:04:05.000Z");
    const [r, ...rest] = deadLetterRecords(b, "src.dlq", 7, 1_000_000, at);
    expect(rest).toEqual([]);
    expect(r.topic).toBe("src.dlq");
    expect([...(r.value as Uint8Array)]).toEqual([...value]);
    expect(new TextDecoder().decode(r.key as Uint8Array)).toBe("k1");
    const h = new Map(r.headers!.map(([k, v]) => [k, v instanceof Uint8Array ? new TextDecoder().decode(v) : v]));
    expect(h.get("h1")).toBe("v1");
    expect(h.get("h2")).toBeNull();
    expect(h.get(DLQ_HEADERS.code)).toBe("CE_BAD_JSON");
    expect(h.get(DLQ_HEADERS.reason)).toBe("unexpected token");
    expect(h.get(DLQ_HEADERS.stage)).toBe("enrich");
    expect(h.get(DLQ_HEADERS.topic)).toBe("src");
    expect(h.get(DLQ_HEADERS.partition)).toBe("3");
    expect(h.get(DLQ_HEADERS.offset)).toBe("42");
    expect(h.get(DLQ_HEADERS.worker)).toBe("7");
    expect(h.get(DLQ_HEADERS.failedAt)).toBe("2025-01-02T03:04:05.000Z");
  });

  test("no rejections, no records", () => {
    const b = new Batch(packRecords([{ topic: "src", partition: 0, offset: 0, value: "x" }]));
    expect(deadLetterRecords(b, "dlq", 0, 1_000_000)).toEqual([]);
  });
});

describe("kafka-config", () => {
  const topology = (source: Record<string, unknown>, stages: unknown[] = []) =>
    ({ name: "demo", source, stages, shutdown: { deadlineMs: 1000 } }) as unknown as ResolvedTopology;
  const membership = { static: true, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 2_000 };
  const kafka = { kind: "kafka", brokers: "b1:9092", topics: ["events"], group: "g", start: "earliest", membership, properties: { "sasl.password": "s", "fetch.min.bytes": "1", "enable.auto.commit": "true" } };

  test("consumer: forced manual commits, cooperative-sticky by default, properties verbatim", () => {
    const c = consumerConfig(topology(kafka), 2, "b1:9092");
    expect(c["enable.auto.commit"]).toBe("false");
    expect(c["enable.auto.offset.store"]).toBe("false");
    expect(c["partition.assignment.strategy"]).toBe("cooperative-sticky");
    expect(c["auto.offset.reset"]).toBe("earliest");
    expect(c["group.id"]).toBe("g");
    expect(c["fetch.min.bytes"]).toBe("1");
    expect(c["client.id"]).toBe("topofleet-demo-2");
    const eager = consumerConfig(topology({ ...kafka, properties: { "partition.assignment.strategy": "range" } }), 0, "x");
    expect(eager["partition.assignment.strategy"]).toBe("range");
  });

  test("consumer: the membership keys set the session timeout, heartbeat and a per-slot, per-host static identity", () => {
    const c = consumerConfig(topology(kafka), 3, "b1:9092", "host a/1");
    expect(c["session.timeout.ms"]).toBe("10000");
    expect(c["heartbeat.interval.ms"]).toBe("2000");
    // Kafka's legal characters only; a restart of slot 3 on this host joins as the same member.
    expect(c["group.instance.id"]).toBe("g.host_a_1.3");
    expect(consumerConfig(topology(kafka), 3, "b1:9092", "host a/1")["group.instance.id"]).toBe(c["group.instance.id"]);
    expect(consumerConfig(topology(kafka), 4, "b1:9092", "host a/1")["group.instance.id"]).not.toBe(c["group.instance.id"]);
    expect(consumerConfig(topology(kafka), 3, "b1:9092", "host-b")["group.instance.id"]).not.toBe(c["group.instance.id"]);
    const dynamic = consumerConfig(topology({ ...kafka, membership: { ...membership, static: false } }), 3, "b1:9092");
    expect(dynamic["group.instance.id"]).toBeUndefined();
  });

  test("dead-letter producer: idempotent, acks=all, only connection/security properties", () => {
    const p = deadLetterProducerConfig(topology(kafka), 0, "b1:9092");
    expect(p["enable.idempotence"]).toBe("true");
    expect(p.acks).toBe("all");
    expect(p["sasl.password"]).toBe("s");
    expect(p["fetch.min.bytes"]).toBeUndefined();
    expect(p["bootstrap.servers"]).toBe("b1:9092");
  });

  test("brokers: the override wins; a mock source without one is a ConfigError", () => {
    expect(sourceBrokers(topology(kafka), { brokersOverride: null, databaseUrlOverride: null })).toBe("b1:9092");
    expect(sourceBrokers(topology(kafka), { brokersOverride: "mock:1", databaseUrlOverride: null })).toBe("mock:1");
    expect(() => sourceBrokers(topology({ kind: "mock" }), { brokersOverride: null, databaseUrlOverride: null })).toThrow(ConfigError);
  });

  test("persist url embedded becomes the supervisor's database URL", () => {
    const t = topology(kafka, [{ kind: "enrich", name: "enrich" }, { kind: "persist", name: "persist", url: "embedded" }]);
    const out = applyLaunchOverrides(t, { brokersOverride: null, databaseUrlOverride: "postgres://x@127.0.0.1:1/postgres" });
    expect((out.stages[1] as { url: string }).url).toBe("postgres://x@127.0.0.1:1/postgres");
    expect((t.stages[1] as { url: string }).url).toBe("embedded");
    expect(() => applyLaunchOverrides(t, { brokersOverride: null, databaseUrlOverride: null })).toThrow(/embedded/);
  });
});
