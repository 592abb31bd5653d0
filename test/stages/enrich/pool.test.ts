/**
 * The piscina side: batches split across threads keep their order, the RecordBatch stays intact on the
 * main thread, a dead thread is a retriable ENRICH_POOL_FAILED and the pool recovers, the task queue is
 * bounded, and the stage reports metrics and health.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ConfigError, EnrichError } from "../../../shared/errors/index.ts";
import { Batch, EventStatus, type RecordBatch } from "../../../shared/stages/batch.ts";
import { createEnrichStage } from "../../../shared/stages/enrich/index.ts";
import { planSlices } from "../../../shared/stages/enrich/slices.ts";
import { M } from "../../../shared/telemetry/names.ts";
import type { EnrichStageConfig } from "../../../shared/topology/types.ts";
import { batchOf, binary, ce, startEnrich, structured, testTopology } from "./helpers.ts";
import { enrichConfig } from "../../../dev/support/stage-configs.ts";

const fixture = (name: string) => join(import.meta.dir, "fixtures", name);

/** A deep copy of every buffer and header of a RecordBatch, to compare after enrich. */
function snapshot(r: RecordBatch) {
  return {
    values: r.values.slice(),
    valueStarts: r.valueStarts.slice(),
    valueNull: r.valueNull.slice(),
    keys: r.keys.slice(),
    keyStarts: r.keyStarts.slice(),
    partitions: r.partitions.slice(),
    offsets: r.offsets.slice(),
    timestamps: r.timestamps.slice(),
    topicIndex: r.topicIndex.slice(),
    headerBytes: r.headerBytes.slice(),
    headerStarts: r.headerStarts.slice(),
  };
}

describe("planSlices", () => {
  test("splits only batches large enough, into contiguous near-equal ranges covering the batch", () => {
    expect(planSlices(100, 4)).toEqual([{ start: 0, end: 100 }]);
    expect(planSlices(5000, 1)).toEqual([{ start: 0, end: 5000 }]);
    expect(planSlices(5000, 3)).toEqual([
      { start: 0, end: 1666 },
      { start: 1666, end: 3333 },
      { start: 3333, end: 5000 },
    ]);
    expect(planSlices(600, 8)).toHaveLength(2);
    expect(planSlices(0, 2)).toEqual([{ start: 0, end: 0 }]);
  });
});

describe("threads > 1", () => {
  test("split one batch across the threads and keep record order; the RecordBatch stays intact", async () => {
    const { stage } = await startEnrich(testTopology({ enrich: { threads: 2, module: fixture("batch-module.ts") } }));
    try {
      const n = 1200;
      const records = Array.from({ length: n }, (_, k) =>
        k % 3 === 0
          ? binary({ specversion: "1.0", id: `e${k}`, source: "/tenants/acme/x", type: "t", datacontenttype: "application/json" }, `{"k":${k}}`, { offset: k, key: `key-${k}` })
          : structured(ce({ id: `e${k}`, data: { k } }), { offset: k, key: k % 2 ? null : `key-${k}` }),
      );
      const b = batchOf(records);
      const before = snapshot(b.records);
      await stage.process(b);
      expect(b.count(EventStatus.Live)).toBe(n);
      const e = b.events!;
      const threads: number[] = [];
      for (let k = 0; k < n; k++) {
        expect(e.id[k]).toBe(`e${k}`);
        expect(JSON.parse(e.data[k]!).k).toBe(k);
        const x = JSON.parse(e.extensions[k]!);
        expect(x.seenoffset).toBe(k);
        if (threads.at(-1) !== x.seenthread) threads.push(x.seenthread);
      }
      // Two contiguous slices, each enriched by a different thread.
      expect(threads).toHaveLength(2);
      expect(new Set(threads).size).toBe(2);
      // The engine dead-letters original bytes: nothing of the batch was transferred away or changed.
      expect(snapshot(b.records)).toEqual(before);
      expect(b.value(0)!.byteLength).toBeGreaterThan(0);
    } finally {
      await stage.close();
    }
  });
});

describe("pool failure", () => {
  test("a dead thread fails the batch with a retriable ENRICH_POOL_FAILED, leaves it untouched, and the pool recovers", async () => {
    const { stage } = await startEnrich(testTopology({ enrich: { threads: 1, module: fixture("thread-killer-module.ts") } }));
    try {
      const poisoned = batchOf([structured(ce({ id: "fine" })), structured(ce({ id: "kill", type: "test.crash" }))]);
      const before = snapshot(poisoned.records);
      const err = await stage.process(poisoned).catch((e) => e);
      expect(err).toBeInstanceOf(EnrichError);
      expect(err.code).toBe("ENRICH_POOL_FAILED");
      expect(err.retriable).toBe(true);
      expect(poisoned.events).toBeNull();
      expect(poisoned.count(EventStatus.Live)).toBe(2);
      expect(snapshot(poisoned.records)).toEqual(before);

      const next = batchOf([structured(ce({ id: "after-crash" }))]);
      await stage.process(next);
      expect(next.status[0]).toBe(EventStatus.Live);
      expect(next.events!.id[0]).toBe("after-crash");
      expect((await stage.health()).ok).toBe(true);
    } finally {
      await stage.close();
    }
  });

  test("the retry of a batch that killed a thread dead-letters only the events that kill one alone", async () => {
    const { stage } = await startEnrich(testTopology({ enrich: { threads: 2, module: fixture("thread-killer-module.ts") } }));
    try {
      const n = 600;
      const poison = new Set([17, 401]);
      const b = batchOf(Array.from({ length: n }, (_, k) => structured(ce({ id: `e${k}`, type: poison.has(k) ? "test.crash" : "t" }))));
      const first = await stage.process(b).catch((e) => e);
      expect(first).toBeInstanceOf(EnrichError);
      expect(first.retriable).toBe(true);
      await stage.process(b); // the engine's retry
      for (let k = 0; k < n; k++) {
        if (poison.has(k)) {
          expect(b.status[k]).toBe(EventStatus.DeadLettered);
          expect(b.rejections.get(k)?.code).toBe("ENRICH_THREAD_CRASHED");
        } else {
          expect(b.status[k]).toBe(EventStatus.Live);
          expect(b.events!.id[k]).toBe(`e${k}`);
        }
      }
      expect((await stage.health()).ok).toBe(true);
    } finally {
      await stage.close();
    }
  });

  test("a slice past its deadline: the thread is replaced, the retry isolates the slow event as ENRICH_TIMEOUT", async () => {
    const { stage } = await startEnrich(testTopology({ enrich: { threads: 2, sliceTimeoutMs: 1500, module: fixture("spin-module.ts") } }));
    try {
      const n = 600;
      const b = batchOf(Array.from({ length: n }, (_, k) => structured(ce({ id: `e${k}`, type: k === 433 ? "test.spin" : "t" }))));
      const first = await stage.process(b).catch((e) => e);
      expect(first).toBeInstanceOf(EnrichError);
      expect(first.code).toBe("ENRICH_SLICE_TIMEOUT");
      expect(first.retriable).toBe(true);
      expect(b.count(EventStatus.Live)).toBe(n);
      const t0 = performance.now();
      await stage.process(b); // the engine's retry
      // The slice again (1.5 s), then halves with their share of the deadline (at least 1 s each) down to the event.
      expect(performance.now() - t0).toBeLessThan(20_000);
      expect(b.status[433]).toBe(EventStatus.DeadLettered);
      expect(b.rejections.get(433)?.code).toBe("ENRICH_TIMEOUT");
      expect(b.count(EventStatus.Live)).toBe(n - 1);
      const next = batchOf([structured(ce({ id: "after-spin" }))]);
      await stage.process(next);
      expect(next.events!.id[0]).toBe("after-spin");
      expect((await stage.health()).ok).toBe(true);
    } finally {
      await stage.close();
    }
  }, 60_000);

  test("process.exit in the module rejects only that event, in one pass: no thread dies, nothing to bisect", async () => {
    const { stage } = await startEnrich(testTopology({ enrich: { threads: 2, module: fixture("exit-module.ts") } }));
    try {
      const n = 5000;
      const b = batchOf(Array.from({ length: n }, (_, k) => structured(ce({ id: `x${k}`, type: k % 2 === 0 ? "test.crash" : "t" }))));
      // The piscina threads by id: a thread that died would have been replaced by one with a new id.
      const threadIds = () => (stage as unknown as { pool: { pool: { threads: Array<{ threadId: number }> } } }).pool.pool.threads.map((t) => t.threadId).sort();
      const threadsBefore = threadIds();
      await stage.process(b); // the first attempt succeeds: no ENRICH_POOL_FAILED, no retry, no bisection
      for (let k = 0; k < n; k++) {
        if (k % 2 === 0) {
          expect(b.status[k]).toBe(EventStatus.DeadLettered);
          expect(b.rejections.get(k)?.code).toBe("USER_MODULE_THREW");
          expect(b.rejections.get(k)?.reason).toContain("process.exit(7)");
        } else expect(b.status[k]).toBe(EventStatus.Live);
      }
      expect(threadIds()).toEqual(threadsBefore);
    } finally {
      await stage.close();
    }
  });

  test("the task queue is bounded: beyond it, a retriable ENRICH_QUEUE_FULL", async () => {
    const { stage } = await startEnrich(testTopology({ enrich: { threads: 1 } }));
    try {
      const batches = Array.from({ length: 150 }, (_, k) => batchOf([structured(ce({ id: `q${k}` }))]));
      const results = await Promise.allSettled(batches.map((b) => stage.process(b)));
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(rejected.length).toBeGreaterThan(0);
      for (const r of rejected) {
        expect(r.reason).toBeInstanceOf(EnrichError);
        expect(r.reason.code).toBe("ENRICH_QUEUE_FULL");
        expect(r.reason.retriable).toBe(true);
      }
      // Every batch that was accepted was fully enriched.
      results.forEach((r, k) => {
        if (r.status === "fulfilled") expect(batches[k].events!.id[0]).toBe(`q${k}`);
      });
    } finally {
      await stage.close();
    }
  });
});

describe("stage lifecycle, metrics and health", () => {
  test("the stage records no per-stage series of its own (the engine records them for every stage)", async () => {
    const topology = testTopology({ enrich: { name: "enrich-main" } });
    const { stage, metrics } = await startEnrich(topology);
    try {
      await stage.process(batchOf([structured(ce()), structured("nope")]));
      expect(metrics.value(M.eventsIn, { stage: "enrich-main" })).toBe(0);
      expect(metrics.renderPrometheus()).not.toContain(M.batchSeconds);
    } finally {
      await stage.close();
    }
  });

  test("a repeated process() only handles events still Live and keeps earlier rejections", async () => {
    const { stage } = await startEnrich(testTopology());
    try {
      const b = batchOf([structured(ce({ id: "a" })), structured("{bad"), structured(ce({ id: "c" }))]);
      await stage.process(b);
      b.markPersisted(0);
      await stage.process(b);
      expect([...b.status]).toEqual([EventStatus.Persisted, EventStatus.DeadLettered, EventStatus.Live]);
      expect(b.rejections.get(1)?.code).toBe("CE_BAD_JSON");
      expect(b.events!.id[2]).toBe("c");
      expect(b.events!.copyLines[0]).toBe("");
    } finally {
      await stage.close();
    }
  });

  test("health is ok while the pool runs and not after close; process before start fails", async () => {
    const early = createEnrichStage(enrichConfig());
    expect((await early.health()).ok).toBe(false);
    const err = await early.process(new Batch(batchOf([structured(ce())]).records)).catch((e) => e);
    expect(err).toBeInstanceOf(EnrichError);
    expect(err.retriable).toBe(false);

    const { stage } = await startEnrich(testTopology({ enrich: { threads: 2 } }));
    const health = await stage.health();
    expect(health.ok).toBe(true);
    expect(health.detail).toContain("2/2 threads");
    await stage.close();
    expect((await stage.health()).ok).toBe(false);
  });

  test.each([
    ["threads 0", { threads: 0 }, "threads"],
    ["maxEventBytes 0", { maxEventBytes: 0 }, "maxEventBytes"],
    ["a relative module path", { module: "relative/module.ts" }, "absolute"],
    ["a lookup into an invalid name", { lookups: [{ kind: "file", name: "a", path: "/x.json", key: "source", into: "Bad_Name" }] }, "into"],
    ["a lookup into a core attribute", { lookups: [{ kind: "file", name: "a", path: "/x.json", key: "source", into: "id" }] }, "extension attribute"],
    [
      "two lookups with one name",
      {
        lookups: [
          { kind: "file", name: "a", path: "/x.json", key: "source", into: "x" },
          { kind: "file", name: "a", path: "/y.json", key: "source", into: "y" },
        ],
      },
      "used twice",
    ],
  ] as Array<[string, Partial<EnrichStageConfig>, string]>)("%s is a ConfigError", (_label, overrides, part) => {
    let err: unknown;
    try {
      createEnrichStage(enrichConfig(overrides));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe("CONFIG_INVALID");
    expect((err as ConfigError).message).toContain(part);
  });
});
