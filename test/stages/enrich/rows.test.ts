/**
 * What the threads compute for the later stages: COPY lines that parse back into the right columns
 * (default and custom mappings, escapes), the event time rule, tenant, dedupe key and Bloom probes.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { EventStatus } from "../../../shared/stages/batch.ts";
import { bloomLayout, writeProbes } from "../../../shared/stages/dedupe/bloom-math.ts";
import type { EnrichStage } from "../../../shared/stages/enrich/index.ts";
import type { DedupeStageConfig, EnrichStageConfig, PersistStageConfig } from "../../../shared/topology/types.ts";
import { batchOf, ce, parseCopyLine, row, startEnrich, structured, testTopology } from "./helpers.ts";
import { buildEnrichPlan } from "../../../shared/stages/enrich/plan.ts";
import type { EnrichSliceOk } from "../../../shared/stages/enrich/protocol.ts";
import { allocateEvents, attachCopyBytes, mergeSlice, sliceTask } from "../../../shared/stages/enrich/slices.ts";
import { EnrichThread } from "../../../shared/stages/enrich/thread.ts";
import { needsOf } from "../../../shared/stages/registry.ts";

const started: EnrichStage[] = [];
afterAll(() => Promise.all(started.map((s) => s.close())));

async function stageWith(opts: { enrich?: Partial<EnrichStageConfig>; dedupe?: Partial<DedupeStageConfig> | false; persist?: Partial<PersistStageConfig> | false } = {}) {
  const { stage } = await startEnrich(testTopology(opts));
  started.push(stage);
  return stage;
}

describe("COPY lines", () => {
  test("parse back into the default columns, with tabs, newlines, CR and backslashes escaped", async () => {
    const stage = await stageWith();
    const nasty = "tab\there\nnew line\r\\back\\slash";
    // Control characters are allowed in data only (CloudEvents String rule); attributes carry backslashes.
    const b = batchOf([
      structured(ce({ id: "id\\with\\slashes", subject: "sub ject\\x", data: { note: nasty, path: "C:\\temp\\" }, region: "back\\slash" }), { partition: 3, offset: 12345 }),
    ]);
    await stage.process(b);
    expect(b.status[0]).toBe(EventStatus.Live);
    const line = b.events!.copyLines[0];
    expect(line).not.toContain("\n");
    expect(line.split("\t")).toHaveLength(11);
    const r = row(b, 0);
    expect(r.id).toBe("id\\with\\slashes");
    expect(r.source).toBe("/tenants/acme/orders");
    expect(r.type).toBe("com.example.order.created");
    expect(r.subject).toBe("sub ject\\x");
    expect(r.time).toBe("2024-05-01T12:34:56.789Z");
    expect(r.tenant).toBeNull();
    expect(JSON.parse(r.data!)).toEqual({ note: nasty, path: "C:\\temp\\" });
    expect(JSON.parse(r.extensions!)).toEqual({ datacontenttype: "application/json", region: "back\\slash" });
    expect(new Date(r.ingested_at!).getTime()).toBe(b.events!.ingestedAt[0]);
    expect(r.kafka_partition).toBe("3");
    expect(r.kafka_offset).toBe("12345");
    // The columns in EnrichedEvents agree with the line.
    expect(b.events!.data[0]).toBe(r.data);
    expect(b.events!.extensions[0]).toBe(r.extensions!);
    expect(b.events!.subject[0]).toBe(r.subject);
  });

  test("follow a custom column mapping (order and subset) from the persist stage", async () => {
    const stage = await stageWith({
      persist: {
        manageSchema: false,
        columns: [
          { column: "event_offset", from: "kafka_offset" },
          { column: "event_id", from: "id" },
          { column: "payload", from: "data" },
          { column: "occurred", from: "time" },
        ],
      },
    });
    const b = batchOf([structured(ce({ id: "custom-1" }), { offset: 77 })]);
    await stage.process(b);
    expect(parseCopyLine(b.events!.copyLines[0])).toEqual(["77", "custom-1", '{"orderId":1,"amount":12.5}', "2024-05-01T12:34:56.789Z"]);
    // data is read back from the line; type, subject and extensions, not in it, travel packed.
    expect(b.events!.data[0]).toBe('{"orderId":1,"amount":12.5}');
    expect(b.events!.type[0]).toBe("com.example.order.created");
    expect(b.events!.subject[0]).toBe("order-1");
    // No ingested_at column here: the ingest time is the ingestedat extension.
    expect(Object.keys(JSON.parse(b.events!.extensions[0]))).toEqual(["datacontenttype", "ingestedat"]);
  });

  test("the columns the lines hold (type, subject, data, extensions) are not packed, yet read as they were", async () => {
    const topology = testTopology();
    const plan = buildEnrichPlan(topology.stages[0] as EnrichStageConfig, topology, 0, needsOf);
    const b = batchOf([
      structured(ce({ id: "p-1", subject: undefined, data: undefined, type: "t\\x" })),
      structured(ce({ id: undefined })),
      structured(ce({ id: "p-3", data: { s: "tab\t\u00e9" }, region: "r\\" })),
    ]);
    const { task } = sliceTask(b.records, b.status, { start: 0, end: 3 }, 1_714_566_000_000, null);
    const slice = (await new EnrichThread(plan).run(task)) as EnrichSliceOk;
    expect(Object.keys(slice.strings).sort()).toEqual(["dedupeKey", "id", "source", "tenant", "timeText"]);
    const events = allocateEvents(3, plan.dedupe!.layout.k + 1, task.ingestedAt);
    mergeSlice(events, 0, slice);
    attachCopyBytes(events, [{ range: { start: 0, end: 3 }, slice }], 3);
    expect(events.type).toEqual(["t\\x", "", "com.example.order.created"]);
    expect(events.subject).toEqual([null, "", "order-1"]);
    expect(events.data).toEqual([null, "", JSON.stringify({ s: "tab\t\u00e9" })]);
    expect(events.extensions).toEqual(['{"datacontenttype":"application/json"}', "", '{"datacontenttype":"application/json","region":"r\\\\"}']);
  });

  test("are empty without a persist stage (a custom sink reads the columns instead)", async () => {
    const stage = await stageWith({ persist: false });
    const b = batchOf([structured(ce())]);
    await stage.process(b);
    expect(b.status[0]).toBe(EventStatus.Live);
    expect(b.events!.copyLines[0]).toBe("");
    expect(b.events!.id[0]).toBe("evt-1");
  });
});

describe("event time", () => {
  test("is the CloudEvents time, else the Kafka timestamp, else the ingest time", async () => {
    const stage = await stageWith();
    const kafkaTs = Date.UTC(2024, 6, 1, 8, 0, 0, 123);
    const b = batchOf([
      structured(ce({ time: "2024-05-01T12:34:56.789Z" }), { timestamp: kafkaTs }),
      structured(ce({ time: undefined }), { timestamp: kafkaTs }),
      structured(ce({ time: undefined }), { timestamp: -1 }),
    ]);
    const before = Date.now();
    await stage.process(b);
    const e = b.events!;
    expect(e.time[0]).toBe(Date.UTC(2024, 4, 1, 12, 34, 56, 789));
    expect(e.timeText[1]).toBe("2024-07-01T08:00:00.123Z");
    expect(e.time[1]).toBe(kafkaTs);
    expect(e.time[2]).toBe(e.ingestedAt[2]);
    expect(e.time[2]).toBeGreaterThanOrEqual(before);
    expect(e.timeText[2]).toBe(new Date(e.time[2]).toISOString());
  });

  test("is stable on replay: the same records give the same time, key and line", async () => {
    const stage = await stageWith({
      enrich: { ingestTimestamp: false },
      persist: { columns: ["id", "source", "time", "data", "extensions", "kafka_offset"].map((c) => ({ column: c, from: c as never })) },
    });
    const records = () => [structured(ce({ time: undefined }), { offset: 5, timestamp: 1_700_000_000_000 }), structured(ce({ id: "t2", time: "2024-05-01T14:34:56+02:00" }), { offset: 6 })];
    const first = batchOf(records());
    await stage.process(first);
    await Bun.sleep(5);
    const replay = batchOf(records());
    await stage.process(replay);
    expect(replay.events!.ingestedAt[0]).toBeGreaterThan(first.events!.ingestedAt[0]);
    expect(replay.events!.timeText).toEqual(first.events!.timeText);
    expect(replay.events!.copyLines).toEqual(first.events!.copyLines);
    expect(replay.events!.dedupeKey).toEqual(first.events!.dedupeKey);
    expect(parseCopyLine(first.events!.copyLines[0])[2]).toBe("2023-11-14T22:13:20.000Z");
  });
});

describe("ingest timestamp", () => {
  test("without an ingested_at column it is kept as the ingestedat extension", async () => {
    const stage = await stageWith({ persist: { columns: [{ column: "id", from: "id" }, { column: "extensions", from: "extensions" }] } });
    const b = batchOf([structured(ce())]);
    await stage.process(b);
    const ext = JSON.parse(b.events!.extensions[0]!);
    expect(new Date(ext.ingestedat).getTime()).toBe(b.events!.ingestedAt[0]);
  });

  test("the ingested_at column always holds it; ingestTimestamp false only drops the extension", async () => {
    const stage = await stageWith({ enrich: { ingestTimestamp: false } });
    const b = batchOf([structured(ce())]);
    await stage.process(b);
    expect(new Date(row(b, 0).ingested_at!).getTime()).toBe(b.events!.ingestedAt[0]);
    expect(JSON.parse(b.events!.extensions[0]!).ingestedat).toBeUndefined();
    const noColumn = await stageWith({ enrich: { ingestTimestamp: false }, persist: { columns: [{ column: "id", from: "id" }, { column: "extensions", from: "extensions" }] } });
    const b2 = batchOf([structured(ce())]);
    await noColumn.process(b2);
    expect(JSON.parse(b2.events!.extensions[0]!).ingestedat).toBeUndefined();
  });
});

describe("tenant", () => {
  test("tenantid wins; tenantFromSource derives it from the source path", async () => {
    const stage = await stageWith({ enrich: { tenantFromSource: true } });
    const sources = ["/tenants/acme/orders", "/globex/orders", "https://api.example.com/tenants/initech/x", "//edge-1/umbrella/y", "urn:acme:orders", "orders"];
    const b = batchOf([structured(ce({ tenantid: "explicit", source: "/tenants/other/x" })), ...sources.map((source, k) => structured(ce({ id: `t${k}`, source })))]);
    await stage.process(b);
    expect(b.events!.tenant).toEqual(["explicit", "acme", "globex", "initech", "umbrella", null, null]);
    expect(row(b, 1).tenant).toBe("acme");
  });

  test("without tenantFromSource only tenantid sets it", async () => {
    const stage = await stageWith({ enrich: { tenantFromSource: false } });
    const b = batchOf([structured(ce({ tenantid: "t1" })), structured(ce({ id: "2" }))]);
    await stage.process(b);
    expect(b.events!.tenant).toEqual(["t1", null]);
  });
});

describe("dedupe key and Bloom probes", () => {
  test("probes equal writeProbes computed on the main thread", async () => {
    const dedupe = { expectedPerWindow: 50_000, falsePositiveRate: 0.01 };
    const stage = await stageWith({ dedupe });
    const b = batchOf(Array.from({ length: 300 }, (_, k) => structured(ce({ id: `p-${k}`, source: `/tenants/t${k % 7}/x` }))));
    await stage.process(b);
    const layout = bloomLayout(dedupe.expectedPerWindow, dedupe.falsePositiveRate);
    const stride = layout.k + 1;
    const e = b.events!;
    expect(e.probesPerKey).toBe(stride);
    expect(e.probes.length).toBe(300 * stride);
    const expected = new Uint32Array(300 * stride);
    for (let k = 0; k < 300; k++) {
      expect(e.dedupeKey[k]).toBe(`/tenants/t${k % 7}/x\u0000p-${k}`);
      writeProbes(e.dedupeKey[k], layout, expected, k * stride);
    }
    expect([...e.probes]).toEqual([...expected]);
  });

  test("custom keyFields join attribute values with U+0000; time means the effective event time", async () => {
    const stage = await stageWith({ dedupe: { keyFields: ["tenantid", "id", "time"] } });
    const b = batchOf([structured(ce({ tenantid: "acme", time: "2024-05-01T14:00:00+02:00" })), structured(ce({ time: undefined }), { timestamp: 0 })]);
    await stage.process(b);
    expect(b.events!.dedupeKey).toEqual(["acme\u0000evt-1\u00002024-05-01T12:00:00Z", "\u0000evt-1\u00001970-01-01T00:00:00.000Z"]);
  });

  test("without a dedupe stage there are no keys and no probes", async () => {
    const stage = await stageWith({ dedupe: false });
    const b = batchOf([structured(ce())]);
    await stage.process(b);
    expect(b.events!.dedupeKey[0]).toBe("");
    expect(b.events!.probesPerKey).toBe(0);
    expect(b.events!.probes.length).toBe(0);
  });
});

describe("slice decoding", () => {
  test("an all-ASCII slice (decoded as one text) and a slice with UTF-8 in it give the same rows", async () => {
    const stage = await stageWith();
    const events = [ce({ id: "a-1", data: { note: "plain" } }), ce({ id: "a-2", subject: "s\\2", data: [1, { x: "y" }] }), ce({ id: "a-3", region: "r" })];
    const ascii = batchOf(events.map((e) => structured(e)));
    // The same events after one with a multi-byte character: that slice is decoded record by record.
    const mixed = batchOf([structured(ce({ id: "ü-0", data: { note: "grüße" } })), ...events.map((e) => structured(e))]);
    await stage.process(ascii);
    await stage.process(mixed);
    for (let i = 0; i < events.length; i++) {
      expect(mixed.status[i + 1]).toBe(EventStatus.Live);
      for (const c of ["id", "source", "type", "subject", "timeText", "tenant", "data", "extensions", "dedupeKey"] as const) {
        expect(mixed.events![c][i + 1]).toBe(ascii.events![c][i]);
      }
      // The event's own fields (id to extensions) are the same; the ingest time and Kafka offset are the batch's.
      expect(parseCopyLine(mixed.events!.copyLines[i + 1]).slice(0, 8)).toEqual(parseCopyLine(ascii.events!.copyLines[i]).slice(0, 8));
    }
    expect(mixed.events!.data[0]).toBe('{"note":"grüße"}');
  });
});
