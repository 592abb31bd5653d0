/**
 * A custom stage after enrich that changes events changes what the sinks write: through the engine with the
 * real stages (enrich → custom rewrite → persist on real PostgreSQL, COPY and unnest), the changed events'
 * rows carry the new subject and extension, the unchanged ones the thread-encoded rows.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import { parseTopology } from "../../../shared/topology/index.ts";
import { PG_URL, describeWith } from "../../support/services.ts";
import { GROUP_TIMEOUTS, kafkaSuite } from "../../support/kafka.ts";
import { makeEngine, produce, uniqueName, waitFor } from "../../runtime/engine/support.ts";
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
      const topology = parseTopology(
        `name: mutation
source:
  kafka:
    brokers: ${kafka().bootstraps}
    topics: [${topic}]
    group: ${group}
    sessionTimeout: ${GROUP_TIMEOUTS["session.timeout.ms"]}ms
    heartbeatInterval: ${GROUP_TIMEOUTS["heartbeat.interval.ms"]}ms
stages:
  - enrich: { threads: 1 }
  - custom: { name: rewrite, module: ${join(import.meta.dir, "fixtures", "rewrite-stage.ts")} }
  - persist: { url: "${PG_URL}", table: ${table}, connections: 2, method: ${method} }
deadLetter: { topic: ${topic}.dlq }
batch: { maxEvents: 100, maxWait: 20ms }
`,
        "/test/mutation.yaml",
        process.env,
      );
      const { engine } = await makeEngine(topology);
      await engine.start();
      try {
        await waitFor(() => engine.progress().events >= EVENTS, 60_000, "every event committed");
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
