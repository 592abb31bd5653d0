/**
 * Bad data under load: ~1% poison events (the generator's malformed JSON, missing attributes, bad time and
 * wrong specversion, plus oversized payloads made here) must all reach the DLQ with their reason in the
 * headers while the rest stays exact; and rows the database itself rejects (a CHECK constraint added for the
 * test) must be dead-lettered one by one while the rest of their batches persists.
 */
import { describe, expect, test } from "bun:test";
import { createEventFactory, parseUniqueId, type LoadgenManifest } from "../../shared/loadgen/index.ts";
import { EnrichRejectCode } from "../../shared/stages/enrich/codes.ts";
import { expectExact, faultSuite, headerText, onlyDatabaseRejections, rejectionOf, runProblems, runScenario, Scenario } from "./harness.ts";

const services = faultSuite();

const POISON_HEADER = "fault-poison";

/** A valid CloudEvent whose payload is larger than the topology's maxEventBytes. */
function oversizedEvent(tag: string, n: number, bytes: number): { key: string; value: string; headers: Array<[string, string]> } {
  const id = `big${tag}-${n}`;
  const value = JSON.stringify({
    specversion: "1.0",
    id,
    source: "/tenants/t000/orders",
    type: "com.topofleet.order.created",
    time: new Date().toISOString(),
    data: { blob: "x".repeat(bytes) },
  });
  return { key: id, value, headers: [[POISON_HEADER, "oversized"]] };
}

describe("poison events", () => {
  test("1% poison (bad JSON, missing attributes, bad time, wrong specversion, oversized): all dead-lettered with reasons, the rest exact", async () => {
    const maxEventBytes = 8 * 1024;
    const s = new Scenario(services(), { label: "poison-1pct", events: 24_000, rate: 3000, invalidRatio: 0.008, maxEventBytes });
    await runScenario(s, async () => {
      s.startFleet();
      const producing = s.produce();
      // Oversized events interleaved with the generator's stream, ~0.2% of it.
      const oversized = 48;
      for (let n = 0; n < oversized; n++) {
        await s.produceExtra([oversizedEvent(s.tag, n, maxEventBytes + 1024)]);
        await Bun.sleep(100);
      }
      const { manifest } = await producing;
      const r = await s.finish(manifest, { exactDuplicates: true });
      expectExact(r);
      // The generator's poison: the audit matched every kind to its rejection code and a non-empty reason.
      expect(r.report.dead_lettered).toBe(manifest.invalid.total);
      for (const kind of Object.keys(manifest.invalid.byKind)) expect(manifest.invalid.byKind[kind as keyof typeof manifest.invalid.byKind]).toBeGreaterThan(0);

      const big = r.deadLetters.filter((m) => headerText(m, POISON_HEADER) === "oversized");
      expect(big.length).toBe(oversized);
      for (const m of big) {
        const why = rejectionOf(m);
        expect(why.code).toBe(EnrichRejectCode.TooLarge);
        expect(why.stage).toBe("enrich");
        expect(why.reason).toContain("maxEventBytes");
        // The dead letter carries the original record byte for byte.
        expect(m.value!.length).toBeGreaterThan(maxEventBytes);
      }
      expect(await s.rowsWithIdPrefix(`big${s.tag}-`)).toBe(0);
    });
  }, 300_000);
});

/** The generator's records again (same seed and run id): kinds and sequence numbers are deterministic. */
function regenerate(m: LoadgenManifest) {
  const f = createEventFactory({ ...m.config, seed: m.seed, runId: m.runId, key: m.key });
  return Array.from({ length: m.messages }, () => f.next());
}

describe("rows the database rejects", () => {
  test("a CHECK constraint rejects some rows: exactly those are dead-lettered with PG_23514, the rest of their batches persists", async () => {
    const s = new Scenario(services(), { label: "pg-check-reject", events: 24_000, rate: 3000 });
    await runScenario(s, async () => {
      await s.migrate();
      // Valid events have subject `order/<seq>`: reject every seq ending in 137 (about one in a thousand).
      await services().sql.unsafe(`ALTER TABLE "${s.table}" ADD CONSTRAINT fault_reject CHECK (subject !~ '^order/[0-9]*137$')`);
      const rejected = (seq: number) => seq % 1000 === 137;
      s.startFleet();
      const { manifest } = await s.produce();
      // Duplicates of a rejected event are not duplicates of anything stored: they are rejected again.
      const records = regenerate(manifest);
      const rejectedUnique = records.filter((x) => x.kind === "valid" && rejected(x.seq)).length;
      const rejectedCopies = records.filter((x) => x.kind === "duplicate" && rejected(x.seq)).length;
      expect(rejectedUnique).toBeGreaterThan(5);

      const r = await s.finish(manifest, { exactDuplicates: false, rejectedByDatabase: rejectedUnique });
      const a = r.report;
      expect(onlyDatabaseRejections(r)).toBe(true);
      expect(runProblems(r)).toEqual([]);
      expect(a.invalid_run).toBeNull();
      // Exactly the rejected rows are missing; nothing duplicated; the invalid events dead-lettered as usual.
      expect(a.lost).toBe(rejectedUnique);
      expect(a.persisted_unique).toBe(manifest.unique - rejectedUnique);
      expect(a.duplicated).toBe(0);
      expect(a.unexpected_rows).toBe(0);
      expect(a.dead_lettered).toBe(manifest.invalid.total);
      expect(a.failures.map((f) => f.field).sort()).toEqual(["lost", "valid_dead_lettered"]);
      for (const id of a.missing_ids) expect(rejected(parseUniqueId(manifest.runId, id)!)).toBe(true);
      // A copy that reaches the dedupe stage in its original's batch is dropped there as that event's duplicate
      // (the original is then rejected and dead-lettered); a copy in a later batch is rejected again. Either
      // way every copy is accounted for exactly once, and none is stored.
      expect(r.duplicatesDropped).not.toBeNull();
      const copiesDroppedInBatch = r.duplicatesDropped! - (manifest.duplicates - rejectedCopies);
      expect(copiesDroppedInBatch).toBeGreaterThanOrEqual(0);
      expect(copiesDroppedInBatch).toBeLessThanOrEqual(rejectedCopies);
      expect(r.deadLetterCopies).toBe(0);

      const fromDb = r.deadLetters.filter((m) => rejectionOf(m).stage === "persist");
      expect(fromDb.length).toBe(rejectedUnique + rejectedCopies - copiesDroppedInBatch);
      const ids = new Set<string>();
      for (const m of fromDb) {
        const why = rejectionOf(m);
        expect(why.code).toBe("PG_23514");
        expect(why.reason).toContain("fault_reject");
        const ev = headerText(m, "ce_id") ?? (JSON.parse(new TextDecoder().decode(m.value!)) as { id: string }).id;
        expect(rejected(parseUniqueId(manifest.runId, ev)!)).toBe(true);
        ids.add(ev);
      }
      expect(ids.size).toBe(rejectedUnique);
    });
  }, 300_000);
});
