/**
 * The sink conformance suite: every Sink implementation (shared/stages/sink.ts) runs these cases, with
 * batches made by the real enrich stage from CloudEvents records (so each sink gets what it declared it
 * needs from enrich), against its real service. A backend supplies a fresh sink per test and the means to
 * look at what the sink stored, to make it refuse one event, and to cut it off.
 */
import { afterEach, expect, test } from "bun:test";
import { isRetriable } from "../../../shared/errors/index.ts";
import { Batch, EventStatus } from "../../../shared/stages/batch.ts";
import { createEnrichStage } from "../../../shared/stages/enrich/index.ts";
import { createStage } from "../../../shared/stages/index.ts";
import { packRecords } from "../../../shared/stages/records.ts";
import type { Stage } from "../../../shared/stages/stage.ts";
import { Metrics } from "../../../shared/telemetry/metrics.ts";
import type { StageConfig } from "../../../shared/topology/types.ts";
import { enrichConfig } from "../../../dev/support/stage-configs.ts";
import { stageContext } from "../../../dev/support/stage-context.ts";
import { uniqueName } from "../../../dev/support/services.ts";
import { memorySinkStage } from "./memory-sink.ts";

/** What a sink stored of one event. */
export interface StoredEvent {
  subject: string | null;
  extensions: Record<string, unknown>;
}

/** One fresh sink of a backend (its own table or topic). */
export interface SinkFixture {
  /** The sink's resolved config (any registered kind). */
  config: { kind: string; name: string };
  /** How many copies of each event id the sink holds; `expected` is how many ids the caller expects in all. */
  copies(expected: number): Promise<Map<string, number>>;
  /** What the sink holds for event `id`. */
  stored(id: string): Promise<StoredEvent>;
  /** Makes the sink refuse one event alone: the CloudEvent members that make it do so, and the code it rejects it with. */
  poison(): Promise<{ event: Record<string, unknown>; code: string }>;
  /** Cuts the sink off from its service; resolves with the function that restores it (not called when the backend has `noOutage`). */
  outage(): Promise<() => Promise<void>>;
  cleanup(): Promise<void>;
}

/** A sink implementation under test. */
export interface SinkBackend {
  fresh(): Promise<SinkFixture>;
  /** Copies of an event after its batch is written again from the same Kafka records (a crash before the offset commit). */
  copiesAfterRedelivery: 1 | 2;
  /** Why this backend cannot cut its sink off (the outage case is skipped with it printed), or null. */
  noOutage: string | null;
}

/** A CloudEvent of the suite, as a Kafka record value: the same for the same prefix, k and time (a re-delivery). */
function cloudEvent(prefix: string, k: number, time: string, over: Record<string, unknown> = {}): string {
  return JSON.stringify({ specversion: "1.0", id: `${prefix}-${k}`, source: "/conformance", type: "t.conf", subject: "original", time, tenantid: "t1", data: { k, s: "tab\there" }, ...over });
}

/** Registers the suite's tests in the caller's describe block. */
export function sinkConformance(backend: SinkBackend): void {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const c of open.splice(0).reverse()) await c.close();
  });

  /** A started enrich stage and sink stage (optionally followed by a memory sink), on a fresh fixture. */
  async function pipeline(o: { followedBy?: boolean } = {}) {
    const fixture = await backend.fresh();
    open.push({ close: () => fixture.cleanup() });
    // No ingest time: it would be an extension in sinks without an ingested_at column, and the cases compare extensions.
    const enrichCfg = enrichConfig({ threads: 1, ingestTimestamp: false });
    const configs = [enrichCfg, fixture.config as StageConfig];
    const metrics = new Metrics();
    const enrich = createEnrichStage(enrichCfg);
    await enrich.start(stageContext({ configs, metrics }));
    open.push(enrich);
    const sink = await createStage(fixture.config as StageConfig);
    const next = o.followedBy ? memorySinkStage() : null;
    const stages: Stage[] = next ? [enrich, sink, next] : [enrich, sink];
    await sink.start(stageContext({ configs, metrics, stages }));
    open.push(sink);
    const prefix = uniqueName("ev");
    const time = new Date().toISOString();
    /** A batch of `n` events at offsets [first, first + n) enriched; `over` changes event k. */
    const batch = async (n: number, over: (k: number) => Record<string, unknown> = () => ({}), first = 0) => {
      const records = Array.from({ length: n }, (_, k) => ({ topic: "conformance", partition: 0, offset: first + k, timestamp: Date.now(), value: cloudEvent(prefix, k, time, over(k)) }));
      const b = new Batch(packRecords(records));
      await enrich.process(b);
      expect(b.count(EventStatus.Live)).toBe(n);
      return b;
    };
    return { fixture, sink, next, batch, prefix, metrics };
  }

  const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, k) => `${prefix}-${k}`);

  test("every event written once and reported durable exactly when the write returned", async () => {
    const { fixture, sink, batch, prefix } = await pipeline();
    const b = await batch(40);
    await sink.process(b);
    expect(b.count(EventStatus.Persisted)).toBe(40);
    const copies = await fixture.copies(40);
    expect([...copies.keys()].sort()).toEqual(ids(prefix, 40).sort());
    expect([...copies.values()].every((c) => c === 1)).toBe(true);
  }, 60_000);

  test(`the same records written again (a crash before the offset commit) end in ${backend.copiesAfterRedelivery} copy(ies), reported durable`, async () => {
    const { fixture, sink, batch } = await pipeline();
    await sink.process(await batch(20));
    const again = await batch(20);
    await sink.process(again);
    expect(again.count(EventStatus.Persisted)).toBe(20);
    const copies = await fixture.copies(20 * backend.copiesAfterRedelivery);
    expect(copies.size).toBe(20);
    expect([...copies.values()].every((c) => c === backend.copiesAfterRedelivery)).toBe(true);
  }, 60_000);

  const outageCase = "a batch-level outage is retriable, settles nothing, and the retried batch lands exactly once";
  if (backend.noOutage) console.warn(`[skip] ${outageCase}: ${backend.noOutage}`);
  test.skipIf(backend.noOutage !== null)(outageCase, async () => {
    const { fixture, sink, batch, prefix } = await pipeline();
    const b = await batch(30);
    const restore = await fixture.outage();
    let failure: unknown = null;
    try {
      await sink.process(b);
    } catch (err) {
      failure = err;
    } finally {
      await restore();
    }
    expect(failure).not.toBeNull();
    expect(isRetriable(failure)).toBe(true);
    expect(b.count(EventStatus.Live)).toBe(30);
    // The engine retries with the same batch until it goes through.
    for (let attempt = 0; b.count(EventStatus.Live) > 0; attempt++) {
      try {
        await sink.process(b);
      } catch (err) {
        if (!isRetriable(err) || attempt > 20) throw err;
        await Bun.sleep(250);
      }
    }
    expect(b.count(EventStatus.Persisted)).toBe(30);
    const copies = await fixture.copies(30);
    expect([...copies.keys()].sort()).toEqual(ids(prefix, 30).sort());
    expect([...copies.values()].every((c) => c === 1)).toBe(true);
  }, 90_000);

  test("an event the sink refuses alone is dead-lettered with a stable code; the rest of the batch is written", async () => {
    const { fixture, sink, batch, prefix } = await pipeline();
    const { event, code } = await fixture.poison();
    const b = await batch(16, (k) => (k === 5 ? event : {}));
    await sink.process(b);
    expect(b.count(EventStatus.Persisted)).toBe(15);
    expect(b.status[5]).toBe(EventStatus.DeadLettered);
    expect(b.rejections.get(5)).toMatchObject({ stage: sink.name, code });
    const copies = await fixture.copies(15);
    expect([...copies.keys()].sort()).toEqual(ids(prefix, 16).filter((id) => id !== `${prefix}-5`).sort());
  }, 60_000);

  test("followed by another sink: events stay Live for it, are not written twice on a repeat, and settle after it", async () => {
    const { fixture, sink, next, batch } = await pipeline({ followedBy: true });
    const b = await batch(10);
    await sink.process(b);
    expect(b.count(EventStatus.Live)).toBe(10);
    await sink.process(b);
    expect((await fixture.copies(10)).size).toBe(10);
    expect([...(await fixture.copies(10)).values()].every((c) => c === 1)).toBe(true);
    await next!.process(b);
    expect(b.count(EventStatus.Persisted)).toBe(10);
    expect(next!.sink.ids.length).toBe(10);
  }, 60_000);

  test("events changed after enrich (Batch.updateEvent) are written changed, the others as enrich built them", async () => {
    const { fixture, sink, batch, prefix } = await pipeline();
    const b = await batch(12);
    for (let k = 0; k < 12; k += 3) b.updateEvent(k, { subject: `rewritten-${k}`, extensions: { region: "eu" } });
    await sink.process(b);
    expect(b.count(EventStatus.Persisted)).toBe(12);
    await fixture.copies(12);
    for (let k = 0; k < 12; k++) {
      const got = await fixture.stored(`${prefix}-${k}`);
      if (k % 3 === 0) expect(got).toEqual({ subject: `rewritten-${k}`, extensions: { region: "eu", tenantid: "t1" } });
      else expect(got).toEqual({ subject: "original", extensions: { tenantid: "t1" } });
    }
  }, 60_000);
}
