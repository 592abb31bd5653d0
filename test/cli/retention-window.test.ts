/**
 * The table's retention window, end to end: an event older than `retentionDays` or further ahead than the
 * partitions made ahead goes to the dead-letter topic with its code (CE_TIME_TOO_OLD, CE_TIME_TOO_FAR_AHEAD),
 * counts as invalid in the summary, and never as persisted (a maintenance pass would drop it). Mock cluster,
 * or the real broker when KAFKA_BROKERS is set; real PostgreSQL.
 */
import { afterAll, expect, test } from "bun:test";
import postgres from "postgres";
import { DLQ_HEADERS } from "../../shared/runtime/engine/dead-letter.ts";
import { kafkaSuite, produce, readTopic } from "../../dev/support/kafka.ts";
import { PG_URL, describeWith } from "../../dev/support/services.ts";
import { uniqueName } from "../runtime/engine/support.ts";
import { runCliToEnd } from "../../dev/support/cli-process.ts";
import { writeTopology } from "../../dev/support/topology.ts";
import { tempDir } from "../../dev/support/temp-dir.ts";

const DAY_MS = 86_400_000;
const kafka = kafkaSuite();
const tmp = tempDir("window");
const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
const table = uniqueName("window_events");
afterAll(async () => {
  await sql.unsafe(`DROP TABLE IF EXISTS "${table}" CASCADE`).catch(() => undefined);
  await sql.end();
  tmp.cleanup();
});

describeWith("postgres", "retention window", () => {
  test("too old and too far ahead are dead-lettered with their code and count as invalid, never persisted", async () => {
    const k = kafka();
    const topic = uniqueName("window");
    await k.createTopic(topic, 1);
    await k.createTopic(`${topic}.dlq`, 1);
    const now = Date.now();
    const times = { old: now - 40 * DAY_MS, ahead: now + 10 * DAY_MS, fine: now };
    const ids = Object.keys(times) as Array<keyof typeof times>;
    await produce(k.bootstraps, topic, ids.length, 1, (i) => ({
      key: ids[i],
      value: JSON.stringify({ specversion: "1.0", id: ids[i], source: "/window/test", type: "t", time: new Date(times[ids[i]]).toISOString(), data: { i } }),
    }));
    const file = writeTopology(
      tmp.dir,
      `name: window
source:
  kafka:
    brokers: "${k.bootstraps}"
    topics: [${topic}]
    group: ${uniqueName("g")}
    sessionTimeout: 6s
stages:
  - enrich:
      threads: 1
  - persist:
      url: "${PG_URL}"
      table: ${table}
      connections: 1
      retentionDays: 30
      partitionsAheadDays: 2
http:
  port: 0
`,
    );
    const r = await runCliToEnd([file, "--max-events", "3", "--json", "--data-dir", tmp.dir]);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(JSON.parse(r.stdout.trim().split("\n").at(-1)!)).toMatchObject({ events: 3, persisted: 1, duplicates: 0, invalid: 2, lost: 0 });
    const stored = await sql.unsafe(`SELECT id FROM "${table}"`);
    expect(stored.map((row) => row.id)).toEqual(["fine"]);
    const dead = await readTopic(k.bootstraps, `${topic}.dlq`, 2);
    const codes = new Map(dead.map((d) => [new TextDecoder().decode(d.key!), new TextDecoder().decode(d.headers.get(DLQ_HEADERS.code)!)]));
    expect(Object.fromEntries(codes)).toEqual({ old: "CE_TIME_TOO_OLD", ahead: "CE_TIME_TOO_FAR_AHEAD" });
  }, 180_000);
});
