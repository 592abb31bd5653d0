/**
 * The persist stage's fast paths: COPY data taken from the enrich stage's bytes (copy-payload.ts), and
 * contested events (verified as new by the dedupe stage while another batch may be writing them) written
 * last and conflict-tolerantly, so that a race between two in-flight batches never fails a COPY.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import postgres, { type Sql } from "postgres";
import { EventStatus, type Batch } from "../../../shared/stages/batch.ts";
import { encodeCopyLines } from "../../../shared/stages/enrich/copy-bytes.ts";
import { copyPayload, type CopyData } from "../../../shared/stages/persist/copy-payload.ts";
import { createPersistStage, type PersistStage } from "../../../shared/stages/persist/index.ts";
import { derivedName } from "../../../shared/stages/persist/sql-text.ts";
import { describeWith, PG_URL, uniqueName } from "../../../dev/support/services.ts";
import { makeBatch, manyEvents, type FixtureEvent } from "../../../dev/support/persist-batches.ts";
import { stageContext } from "../../../dev/support/stage-context.ts";
import { persistConfig } from "../../../dev/support/stage-configs.ts";
import { tempDir } from "../../../dev/support/temp-dir.ts";

const text = new TextDecoder();
const asText = (p: CopyData) => (typeof p === "string" ? p : p.map((part) => text.decode(part)).join(""));
/** The byte parts of a payload that must not be text. */
const partsOf = (p: CopyData): Uint8Array[] => {
  if (typeof p === "string") throw new Error("expected byte parts, got text");
  return p;
};

/** A fixture batch that also carries its COPY lines as bytes, as the enrich stage hands them over. */
function withBytes(b: Batch): Batch {
  const { bytes, starts } = encodeCopyLines(b.events!.copyLines);
  b.events!.copyBytes = bytes;
  b.events!.copyStarts = starts;
  return b;
}

describe("copyPayload", () => {
  const b = withBytes(makeBatch(manyEvents("cp", 6, (k) => ({ subject: k === 4 ? "naïve\ttab" : `s${k}` }))));
  const lines = b.events!.copyLines;

  test("a run of consecutive events is a view of the enrich bytes (no copy)", () => {
    const p = partsOf(copyPayload(b.events!, [1, 2, 3], false));
    expect(p.length).toBe(1);
    expect(p[0].buffer).toBe(b.events!.copyBytes!.buffer);
    expect(asText(p)).toBe(`${lines[1]}\n${lines[2]}\n${lines[3]}\n`);
  });

  test("gaps (duplicates, rejected events) are skipped run by run, each run a view", () => {
    const p = partsOf(copyPayload(b.events!, [0, 2, 3, 5], false));
    expect(p.length).toBe(3);
    for (const part of p) expect(part.buffer).toBe(b.events!.copyBytes!.buffer);
    expect(asText(p)).toBe([0, 2, 3, 5].map((i) => lines[i] + "\n").join(""));
    expect(partsOf(copyPayload(b.events!, [], false))).toEqual([]);
  });

  test("staging lines get their ordinal in the chunk, multi-byte text included", () => {
    expect(asText(copyPayload(b.events!, [1, 4, 5], true))).toBe(`${lines[1]}\t1\n${lines[4]}\t2\n${lines[5]}\t3\n`);
  });

  test("without bytes (a custom stage built the events) the lines are used", () => {
    const plain = makeBatch(manyEvents("cq", 3));
    const l = plain.events!.copyLines;
    expect(copyPayload(plain.events!, [0, 2], false)).toBe(`${l[0]}\n${l[2]}\n`);
    expect(copyPayload(plain.events!, [0, 2], true)).toBe(`${l[0]}\t1\n${l[2]}\t2\n`);
  });

  test("dirty events (changed after enrich) get their line encoded again; the clean ones keep the enrich bytes", () => {
    const reencode = { dirty: new Set([2, 4]), line: (i: number) => `new-${i}\tnaïve` };
    expect(asText(copyPayload(b.events!, [1, 2, 3, 4], false, reencode))).toBe(`${lines[1]}\nnew-2\tnaïve\n${lines[3]}\nnew-4\tnaïve\n`);
    expect(asText(copyPayload(b.events!, [2, 4, 5], true, reencode))).toBe(`new-2\tnaïve\t1\nnew-4\tnaïve\t2\n${lines[5]}\t3\n`);
    // Only the dirty lines are new bytes: the runs around them stay views.
    const parts = partsOf(copyPayload(b.events!, [1, 2, 3, 4], false, reencode));
    expect(parts.map((part) => part.buffer === b.events!.copyBytes!.buffer)).toEqual([true, false, true, false]);
    // No dirty event among the indexes: still the view.
    expect(partsOf(copyPayload(b.events!, [0, 1], false, reencode))[0].buffer).toBe(b.events!.copyBytes!.buffer);
    const plain = makeBatch(manyEvents("cr", 3));
    expect(copyPayload(plain.events!, [0, 2], true, reencode)).toBe(`${plain.events!.copyLines[0]}\t1\nnew-2\tnaïve\t2\n`);
  });
});

describeWith("postgres", "persist fast paths on PostgreSQL", () => {
  let admin: Sql;
  let schema: string;
  let dataDir: string;
  const open: PersistStage[] = [];

  beforeAll(async () => {
    admin = postgres(PG_URL, { max: 1, onnotice: () => undefined });
    schema = uniqueName("tf_fast");
    await admin.unsafe(`CREATE SCHEMA "${schema}"`);
    dataDir = tempDir("fast").dir;
  });

  afterAll(async () => {
    await Promise.all(open.map((s) => s.close()));
    await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function startStage() {
    const cfg = persistConfig({ schema, connections: 4 });
    const stage = createPersistStage(cfg);
    await stage.start(stageContext({ dataDir }));
    open.push(stage);
    return { stage, table: cfg.table };
  }

  /** Sessions that ever created the staging table, i.e. that took the slow path after a failed COPY. */
  const stagingTables = async (table: string): Promise<number> =>
    Number((await admin.unsafe(`SELECT count(*)::int AS n FROM pg_class WHERE relname = $1 AND relpersistence = 't'`, [derivedName(table, "_topofleet_staging")]))[0].n);
  const rows = async (table: string): Promise<Array<{ id: string; kafka_offset: string }>> =>
    (await admin.unsafe(`SELECT id, kafka_offset::text AS kafka_offset FROM "${schema}"."${table}" ORDER BY id`)) as unknown as Array<{ id: string; kafka_offset: string }>;
  const statuses = (b: Batch) => [...b.status];

  test("bytes from the enrich stage are written as they are, also for a chunk with gaps", async () => {
    const { stage, table } = await startStage();
    const b = withBytes(makeBatch(manyEvents("bytes", 20, (k) => ({ subject: k === 7 ? "ünï\\code\ttab" : `s${k}` }))));
    b.markDuplicate(3); // a gap: the chunk is 0-2, 4-19
    b.markDuplicate(10);
    await stage.process(b);
    expect(b.count(EventStatus.Persisted)).toBe(18);
    const got = await rows(table);
    expect(got.map((r) => r.id)).not.toContain("bytes-3");
    expect(got.length).toBe(18);
    const [s] = await admin.unsafe(`SELECT subject FROM "${schema}"."${table}" WHERE id = 'bytes-7'`);
    expect(s.subject).toBe("ünï\\code\ttab");
  });

  test("a contested copy of an event another in-flight batch is writing ends Duplicate, and no COPY fails", async () => {
    const { stage, table } = await startStage();
    // Batch A holds the originals; batch B, delivered right behind it, holds producer-retry copies of some of
    // them (same identity, their own Kafka offsets) and new events.
    const originals: FixtureEvent[] = manyEvents("race", 400, (k) => ({ offset: 10_000 + k, time: "2026-03-01T00:00:00.000Z" }));
    const copies: FixtureEvent[] = originals.slice(100, 130).map((e, k) => ({ ...e, offset: 20_000 + k }));
    const fresh: FixtureEvent[] = manyEvents("race-new", 50, (k) => ({ offset: 20_100 + k, time: "2026-03-01T00:00:00.000Z" }));
    const a = withBytes(makeBatch(originals));
    const b = withBytes(makeBatch([...copies, ...fresh]));
    // The dedupe stage's verification of B's "maybe seen" copies, before A has committed: not stored yet.
    const copyIndexes = copies.map((_, k) => k);
    expect((await stage.existing(b, copyIndexes)).size).toBe(0);
    await Promise.all([stage.process(a), stage.process(b)]);
    expect(a.count(EventStatus.Persisted)).toBe(400);
    expect(statuses(b).slice(0, 30).every((s) => s === EventStatus.Duplicate)).toBe(true);
    expect(statuses(b).slice(30).every((s) => s === EventStatus.Persisted)).toBe(true);
    const got = await rows(table);
    expect(got.length).toBe(450);
    // The originals' Kafka positions won: the copies were never written.
    expect(got.find((r) => r.id === "race-100")!.kafka_offset).toBe("10100");
    expect(await stagingTables(table)).toBe(0);
  });

  test("contested events nobody else stored are persisted", async () => {
    const { stage, table } = await startStage();
    const b = withBytes(makeBatch(manyEvents("alone", 10)));
    expect((await stage.existing(b, [2, 5])).size).toBe(0);
    await stage.process(b);
    expect(b.count(EventStatus.Persisted)).toBe(10);
    expect((await rows(table)).length).toBe(10);
    expect(await stagingTables(table)).toBe(0);
  });

  test("contested events are written from their own COPY lines: the batch's columns are never decoded whole", async () => {
    const { stage, table } = await startStage();
    const b = withBytes(
      makeBatch(
        manyEvents("lines", 12, (k) => ({
          subject: k === 2 ? "tab\there\\back ünï" : k === 5 ? null : `s${k}`,
          data: k === 2 ? '{"note":"a\\\\tb","n":1}' : `{"k":${k}}`,
          extensions: k === 5 ? '{"traceparent":"00-ab"}' : "{}",
        })),
      ),
    );
    // The columns the enrich stage leaves in the COPY lines: reading one now would decode it for the whole batch.
    for (const column of ["type", "subject", "data", "extensions"]) {
      Object.defineProperty(b.events!, column, {
        get() {
          throw new Error(`column ${column} was read`);
        },
      });
    }
    expect((await stage.existing(b, [2, 5])).size).toBe(0);
    await stage.process(b);
    expect(b.count(EventStatus.Persisted)).toBe(12);
    const got = await admin.unsafe(`SELECT id, subject, data::text AS data, extensions::text AS extensions, kafka_offset::text AS o FROM "${schema}"."${table}" WHERE id IN ('lines-2', 'lines-5') ORDER BY id`);
    expect(got.map((r) => ({ ...r }) as Record<string, unknown>)).toEqual([
      { id: "lines-2", subject: "tab\there\\back ünï", data: '{"n": 1, "note": "a\\\\tb"}', extensions: "{}", o: String(b.records.offsets[2]) },
      { id: "lines-5", subject: null, data: '{"k": 5}', extensions: '{"traceparent": "00-ab"}', o: String(b.records.offsets[5]) },
    ]);
  });
});
