/**
 * The audit catches what it should, on a hand-built table + manifest + dead letters: a real PostgreSQL table
 * holding exactly what a correct pipeline would have stored for a generated run, then one defect at a time.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { audit, formatAudit, tallyDeadLetters, type AuditInput, type DeadLetterMessage } from "../../shared/audit/index.ts";
import { createEventFactory, EXPECTED_REJECTION_CODE, manifestOf, type GeneratedRecord, type LoadgenManifest } from "../../shared/loadgen/index.ts";
import { DLQ_HEADERS } from "../../shared/runtime/engine/dead-letter.ts";
import { describeWith, PG_URL, uniqueName } from "../../dev/support/services.ts";

const config = { rate: 0, events: 3000, tenants: 4, duplicateRatio: 0.05, invalidRatio: 0.04, binaryRatio: 0.2, payloadBytes: 64 };

/** A run as a correct pipeline would leave it: rows for unique events, dead letters for invalid ones. */
function generateRun(): { manifest: LoadgenManifest; records: GeneratedRecord[]; deadLetters: DeadLetterMessage[] } {
  const f = createEventFactory({ ...config, seed: 7 });
  const records = Array.from({ length: config.events }, () => f.next());
  const manifest = manifestOf(f, { topic: "events", key: "tenant", config, startedAt: new Date(), complete: true });
  const deadLetters = records
    .filter((r) => r.kind === "invalid")
    .map((r) => ({
      value: r.value,
      headers: [...r.headers!, [DLQ_HEADERS.code, EXPECTED_REJECTION_CODE[r.invalidKind!]], [DLQ_HEADERS.reason, "rejected by the test"]] as Array<[string, string]>,
    }));
  return { manifest, records, deadLetters };
}

describeWith("postgres", "audit on a hand-built run", () => {
  const sql = postgres(PG_URL, { max: 2, onnotice: () => {} });
  const table = uniqueName("audit_events");
  const run = generateRun();
  const valid = run.records.filter((r) => r.kind === "valid");
  const time = "2024-05-01T12:00:00.000Z";
  const input = (over: Partial<AuditInput> = {}): AuditInput => ({
    sql,
    table,
    manifest: run.manifest,
    deadLetters: tallyDeadLetters(run.manifest.runId, run.deadLetters),
    duplicatesDropped: run.manifest.duplicates,
    retention: { source: [{ partition: 0, low: 0, high: run.manifest.messages }] },
    ...over,
  });

  beforeAll(async () => {
    await sql`CREATE TABLE ${sql(table)} (id text NOT NULL, source text NOT NULL, time timestamptz NOT NULL, PRIMARY KEY (source, id, time))`;
  });
  beforeEach(async () => {
    await sql`TRUNCATE ${sql(table)}`;
    await sql`INSERT INTO ${sql(table)} (id, source, time)
      SELECT i, s, ${time}::timestamptz FROM unnest(${valid.map((r) => r.id!)}::text[], ${valid.map((r) => r.source!)}::text[]) AS u(i, s)`;
  });
  afterAll(async () => {
    await sql`DROP TABLE IF EXISTS ${sql(table)}`;
    await sql.end();
  });

  test("a correct run passes with every count exact", async () => {
    const r = await audit(input());
    expect(r.failures).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.invalid_run).toBeNull();
    expect(r.produced_unique).toBe(valid.length);
    expect(r.persisted_unique).toBe(valid.length);
    expect(r.dead_lettered).toBe(run.manifest.invalid.total);
    expect(r.lost).toBe(0);
    expect(r.duplicated).toBe(0);
  });

  test("a deleted row fails `lost` and names the missing id", async () => {
    const victim = valid[123];
    await sql`DELETE FROM ${sql(table)} WHERE id = ${victim.id!}`;
    const r = await audit(input());
    expect(r.ok).toBe(false);
    expect(r.lost).toBe(1);
    expect(r.failures.map((f) => f.field)).toEqual(["lost"]);
    expect(r.missing_ids).toEqual([victim.id!]);
  });

  test("a second row with the same (source, id) and another time fails `duplicated`", async () => {
    const victim = valid[7];
    await sql`INSERT INTO ${sql(table)} (id, source, time) VALUES (${victim.id!}, ${victim.source!}, '2024-05-02T00:00:00Z')`;
    const r = await audit(input());
    expect(r.ok).toBe(false);
    expect(r.duplicated).toBe(1);
    expect(r.failures.map((f) => f.field)).toEqual(["duplicated"]);
    expect(r.duplicated_ids).toEqual([{ source: victim.source!, id: victim.id!, rows: 2 }]);
  });

  test("a dropped dead letter fails `dead_lettered` with the kind that is short", async () => {
    const dropped = run.deadLetters.slice(1);
    const r = await audit(input({ deadLetters: tallyDeadLetters(run.manifest.runId, dropped) }));
    expect(r.ok).toBe(false);
    expect(r.dead_lettered).toBe(run.manifest.invalid.total - 1);
    expect(r.failures.map((f) => f.field)).toEqual(["dead_lettered"]);
    expect(r.failures[0].detail).toContain("malformed_json");
  });

  test("a dead letter with the wrong code fails `dead_letter_codes`", async () => {
    const wrong = run.deadLetters.map((m, i) =>
      i === 0 ? { ...m, headers: m.headers!.map(([k, v]) => [k, k === DLQ_HEADERS.code ? "PG_23514" : v] as [string, string]) } : m,
    );
    const r = await audit(input({ deadLetters: tallyDeadLetters(run.manifest.runId, wrong) }));
    expect(r.failures.map((f) => f.field)).toEqual(["dead_letter_codes"]);
    expect(r.dead_letter_mismatches[0].code).toBe("PG_23514");
  });

  test("a valid event in the DLQ fails `valid_dead_lettered` (and `lost` when its row is missing)", async () => {
    const v = valid[0];
    await sql`DELETE FROM ${sql(table)} WHERE id = ${v.id!}`;
    const dl = [...run.deadLetters, { value: v.value, headers: [...(v.headers ?? []), [DLQ_HEADERS.code, "PG_23514"]] as Array<[string, string]> }];
    const r = await audit(input({ deadLetters: tallyDeadLetters(run.manifest.runId, dl) }));
    expect(r.failures.map((f) => f.field).sort()).toEqual(["lost", "valid_dead_lettered"]);
  });

  test("an invalid event persisted fails `unexpected_rows`", async () => {
    await sql`INSERT INTO ${sql(table)} (id, source, time) VALUES (${run.manifest.runId + "-x0"}, '/x', ${time})`;
    const r = await audit(input());
    expect(r.failures.map((f) => f.field)).toEqual(["unexpected_rows"]);
  });

  test("a wrong duplicate count from the pipeline fails `duplicates_dropped`", async () => {
    const r = await audit(input({ duplicatesDropped: run.manifest.duplicates - 1 }));
    expect(r.failures.map((f) => f.field)).toEqual(["duplicates_dropped"]);
  });

  test("events re-read after a backward reset may be dropped or dead-lettered once more, and no more", async () => {
    const d = run.manifest.duplicates;
    // One re-read event dropped as the duplicate of its stored row: exact.
    const once = await audit(input({ duplicatesDropped: d + 1, reread: 1 }));
    expect(once.failures).toEqual([]);
    expect(once.ok).toBe(true);
    expect(formatAudit(once)).toContain("(1 re-read after a backward reset)");
    // More drops than injected copies and re-reads together.
    const tooMany = await audit(input({ duplicatesDropped: d + 2, reread: 1 }));
    expect(tooMany.failures.map((f) => f.field)).toEqual(["duplicates_dropped"]);
    expect(tooMany.failures[0].detail).toContain("re-read after a backward reset");
    // Fewer drops than injected copies stays a failure whatever was re-read.
    const tooFew = await audit(input({ duplicatesDropped: d - 1, reread: 5 }));
    expect(tooFew.failures.map((f) => f.field)).toEqual(["duplicates_dropped"]);
    // An invalid event re-read is dead-lettered a second time: within the same allowance, shared with the drops.
    const again = [...run.deadLetters, run.deadLetters[0]];
    const dlOnce = await audit(input({ deadLetters: tallyDeadLetters(run.manifest.runId, again), reread: 1 }));
    expect(dlOnce.failures).toEqual([]);
    const shared = await audit(input({ deadLetters: tallyDeadLetters(run.manifest.runId, again), duplicatesDropped: d + 1, reread: 1 }));
    expect(shared.failures.map((f) => f.field).sort()).toEqual(["dead_lettered", "duplicates_dropped"]);
    // Without re-reads a second dead letter of one event fails as before.
    const noReread = await audit(input({ deadLetters: tallyDeadLetters(run.manifest.runId, again) }));
    expect(noReread.failures.map((f) => f.field)).toEqual(["dead_lettered"]);
  });

  test("retention: loss with a low watermark > 0 is an invalid run, not pipeline loss", async () => {
    await sql`DELETE FROM ${sql(table)} WHERE id = ${valid[5].id!}`;
    const r = await audit(input({ retention: { source: [{ partition: 0, low: 10, high: run.manifest.messages }] } }));
    expect(r.ok).toBe(false);
    expect(r.invalid_run).toContain("retention deleted 10 messages");
  });

  test("retention: deletions after processing with every count exact is a valid run with a warning", async () => {
    const r = await audit(input({ retention: { source: [{ partition: 0, low: 10, high: run.manifest.messages }] } }));
    expect(r.ok).toBe(true);
    expect(r.warnings[0]).toContain("after they were processed");
  });

  test("retention: a deletion observed during the run ahead of the committed offset makes the run invalid", async () => {
    const r = await audit(input({ retention: { source: [{ partition: 0, low: 0, high: run.manifest.messages }], observed: ["p0 low=200 > committed=150"] } }));
    expect(r.ok).toBe(false);
    expect(r.invalid_run).toContain("p0 low=200");
  });

  test("an incomplete manifest or a source topic of the wrong size is an invalid run", async () => {
    expect((await audit(input({ manifest: { ...run.manifest, complete: false } }))).invalid_run).toContain("incomplete");
    const r = await audit(input({ sourceIsFresh: true, retention: { source: [{ partition: 0, low: 0, high: run.manifest.messages + 1 }] } }));
    expect(r.invalid_run).toContain("not fresh");
  });
});

describe("dead-letter tally", () => {
  test("counts per kind and ignores dead letters of other runs", () => {
    const run = generateRun();
    const other = { value: "{}", headers: [["loadgen-run", "someotherrun"], ["loadgen-invalid", "bad_time"]] as Array<[string, string]> };
    const t = tallyDeadLetters(run.manifest.runId, [...run.deadLetters, other]);
    expect(t.total).toBe(run.deadLetters.length + 1);
    expect(t.injected).toBe(run.manifest.invalid.total);
    expect(t.byKind).toEqual(run.manifest.invalid.byKind);
    expect(t.foreign).toBe(1);
    expect(t.mismatches).toBe(0);
  });
});
