/**
 * The sink's limits against the real PostgreSQL server: every event at the edge of what enrich accepts
 * (sink-limits.ts) is stored by a real enrich -> persist run, and the rows PostgreSQL refuses for themselves
 * (index row too large 54000, jsonb nesting over the stack 54001, a lone-surrogate escape 22P02, a
 * timestamp text it cannot read) are isolated and dead-lettered with PG_<SQLSTATE> while the rest of
 * their batch persists: never a failed batch, never a crash loop.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";

import { join } from "node:path";
import postgres from "postgres";
import { EventStatus } from "../../../shared/stages/batch.ts";
import { MAX_FRACTION_DIGITS } from "../../../shared/stages/enrich/rfc3339.ts";
import { MAX_JSON_DEPTH, MAX_KEY_BYTES, MAX_TENANT_BYTES } from "../../../shared/stages/enrich/sink-limits.ts";
import { PersistStage } from "../../../shared/stages/persist/index.ts";
import { dayBoundText, dayOf } from "../../../shared/stages/persist/partitions.ts";
import { describeWith, PG_URL, uniqueName } from "../../../dev/support/services.ts";
import { batchOf, ce, startEnrich, structured, testTopology } from "../enrich/helpers.ts";
import { makeBatch } from "../../../dev/support/persist-batches.ts";
import { stageContext } from "../../../dev/support/stage-context.ts";
import { persistConfig } from "../../../dev/support/stage-configs.ts";
import { tempDir } from "../../../dev/support/temp-dir.ts";

/** Random base64 text of `n` characters: PostgreSQL cannot compress it under the btree limit. */
const incompressible = (n: number): string => randomBytes(n).toString("base64").slice(0, n);

describeWith("postgres", "sink limits on PostgreSQL", () => {
  const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
  const schema = uniqueName("sinklimits");
  const dataDir = tempDir("sink-limits").dir;
  const stages: PersistStage[] = [];
  afterAll(async () => {
    for (const s of stages) await s.close();
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await sql.end();
  });

  async function persistStage(): Promise<PersistStage> {
    const stage = new PersistStage(persistConfig({ schema, retentionDays: 5000 }));
    await stage.start(stageContext({ dataDir }));
    stages.push(stage);
    return stage;
  }

  test("events at every limit enrich accepts are stored exactly as they came", async () => {
    // No partition window in enrich (manageSchema false there), so the edge years reach the database: the
    // persist stage below manages its table and must be able to make their partitions.
    const { stage: enrich } = await startEnrich(testTopology({ enrich: { maxEventBytes: 4 << 20 }, persist: { manageSchema: false } }));
    try {
      const today = new Date(dayOf(Date.now()) * 86_400_000 + 43_200_000).toISOString().slice(0, 19);
      const events = [
        ce({ id: "x".repeat(MAX_KEY_BYTES - "/s".length), source: "/s", time: undefined }),
        // Random-looking (incompressible) text: PostgreSQL cannot compress its way under the btree limit.
        ce({ id: incompressible(MAX_KEY_BYTES - 2), source: "/s", time: undefined }),
        ce({ id: "tenant-max", tenantid: "t".repeat(MAX_TENANT_BYTES), time: undefined }),
        ce({ id: "deep", data: JSON.parse("[".repeat(MAX_JSON_DEPTH) + "]".repeat(MAX_JSON_DEPTH)), time: undefined }),
        ce({ id: "fraction", time: `${today}.${"9".repeat(MAX_FRACTION_DIGITS)}Z` }),
        ce({ id: "x\ufffd", time: undefined }),
        ce({ id: "emoji\u{1F600}", data: { s: "\u{1F600}", t: "tab\there" }, time: undefined }),
        ce({ id: "year-9999", time: "9999-12-31T12:00:00Z" }),
        ce({ id: "year-0001", time: "0001-01-01T00:00:00Z" }),
      ];
      const b = batchOf(events.map((e) => structured(e, { timestamp: Date.now() })));
      await enrich.process(b);
      expect([...b.rejections.values()]).toEqual([]);
      const persist = await persistStage();
      await persist.process(b);
      expect(b.count(EventStatus.Persisted)).toBe(events.length);
      const rows = await sql.unsafe<Array<{ id: string; subject: string | null }>>(`SELECT id FROM "${schema}"."${persist.cfg.table}"`);
      expect(rows.map((r) => r.id).sort()).toEqual(events.map((e) => e.id as string).sort());
    } finally {
      await enrich.close();
    }
  });

  test("rows PostgreSQL refuses alone are dead-lettered with their SQLSTATE; the rest of the batch persists", async () => {
    const persist = await persistStage();
    const b = makeBatch([
      { id: "ok-1" },
      { id: incompressible(4000) },
      { id: "ok-2" },
      { id: "deep", data: "[".repeat(20_000) + "]".repeat(20_000) },
      { id: "surrogate", data: '"x\\ud800"' },
      { id: "ok-3" },
    ]);
    await persist.process(b);
    expect([...b.status]).toEqual([
      EventStatus.Persisted,
      EventStatus.DeadLettered,
      EventStatus.Persisted,
      EventStatus.DeadLettered,
      EventStatus.DeadLettered,
      EventStatus.Persisted,
    ]);
    expect(b.rejections.get(1)?.code).toBe("PG_54000");
    expect(b.rejections.get(3)?.code).toBe("PG_54001");
    expect(b.rejections.get(4)?.code).toBe("PG_22P02");
    for (const r of b.rejections.values()) expect(r.reason.length).toBeLessThanOrEqual(500);
  });

  test("a day partition can be made for the last day PostgreSQL's bounds and our times allow", () => {
    expect(dayBoundText(dayOf(Date.parse("9999-12-31T12:00:00Z")) + 1)).toBe("10000-01-01 00:00:00+00");
    expect(dayBoundText(dayOf(Date.parse("0001-01-01T00:00:00Z")))).toBe("0001-01-01 00:00:00+00");
  });
});
