/**
 * A custom stage after enrich that changes events changes what the sinks write: through the engine with the
 * real stages (enrich → custom rewrite → persist on real PostgreSQL, COPY and unnest), the changed events'
 * rows carry the new subject and extension, the unchanged ones the thread-encoded rows.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import type { StageConfig } from "../../../shared/topology/types.ts";
import { enrichConfig, persistConfig } from "../../../dev/support/stage-configs.ts";
import { PG_URL, describeWith } from "../../../dev/support/services.ts";
import { kafkaSuite, produce } from "../../../dev/support/kafka.ts";
import { waitFor } from "../../../dev/support/wait.ts";
import { makeEngine, topologyFor, uniqueName } from "../../runtime/engine/support.ts";
import { join } from "node:path";

const kafka = kafkaSuite();
const PARTITIONS = 2;
const EVENTS = 400;

describeWith("postgres", "events changed after enrich (Batch.updateEvent) reach the sink changed", () => {
  let sql: postgres.Sql;
  const tables: string[] = [];

  beforeAll(() => {
    sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
  });

  afterAll(async () => {
    for (const t of tables) await sql?.unsafe(`DROP TABLE IF EXISTS public.${t} CASCADE`);
    await sql?.end();
  });

  for (const method of ["copy", "unnest"] as const) {
    test(`persist (${method}) writes the changed subject and extension of every changed event, and only of those`, async () => {
      const topic = uniqueName("mut");
      const table = uniqueName("mut_events");
      tables.push(table);
      await kafka().createTopic(topic, PARTITIONS);
      await kafka().createTopic(`${topic}.dlq`, 1);
      const group = uniqueName("grp");
      await produce(kafka().bootstraps, topic, EVENTS, PARTITIONS, (i) => ({
        key: `k${i}`,
        value: JSON.stringify({ specversion: "1.0", id: `e${i}`, source: "/t/mut", type: "t.mut", subject: "original", tenantid: "t1", data: { n: i, s: "tab\there" } }),
      }));
      const persist = persistConfig({ table, method });
      const rewrite: StageConfig = { kind: "custom", name: "rewrite", module: join(import.meta.dir, "fixtures", "rewrite-stage.ts"), options: {} };
      const topology = topologyFor({ brokers: kafka().bootstraps, topic, group, stages: [enrichConfig(), rewrite, persist], maxEvents: 100 });
      const { engine } = await makeEngine(topology);
      await engine.start();
      try {
        await waitFor(() => engine.progress().events >= EVENTS, { timeoutMs: 60_000, what: "every event committed" });
      } finally {
        await engine.stop(20_000);
      }
      expect(engine.progress()).toMatchObject({ events: EVENTS, persisted: EVENTS, invalid: 0 });
      const rows = await sql.unsafe(`SELECT id, subject, extensions, data, kafka_offset FROM public.${table}`);
      expect(rows.length).toBe(EVENTS);
      let changed = 0;
      for (const r of rows) {
        expect(r.data.s).toBe("tab\there");
        if (Number(r.kafka_offset) % 2 === 0) {
          changed++;
          expect(r.subject).toBe(`rewritten:${r.id}`);
          expect(r.extensions).toEqual({ region: "eu", tenantid: "t1" });
        } else {
          expect(r.subject).toBe("original");
          expect(r.extensions).toEqual({ tenantid: "t1" });
        }
      }
      expect(changed).toBe(EVENTS / 2);
    }, 90_000);
  }
});
