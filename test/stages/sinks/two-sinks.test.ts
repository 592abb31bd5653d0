/**
 * Two sinks in one pipeline, through the engine: enrich → dedupe → persist (real PostgreSQL) → kafkaSink.
 * Persist is not the last sink, so it leaves the events it stored Live for the Kafka sink; the batch, and its
 * offsets, complete only when both have them. Exact end to end: one row and one record per distinct event,
 * duplicates dropped before either sink, invalid events dead-lettered, offsets committed to the end.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import { M } from "../../../shared/telemetry/names.ts";
import { dedupeConfig, enrichConfig, kafkaSinkConfig, persistConfig } from "../../../dev/support/stage-configs.ts";
import { PG_URL, describeWith } from "../../../dev/support/services.ts";
import { waitFor } from "../../../dev/support/wait.ts";
import { makeEngine, topologyFor, uniqueName } from "../../runtime/engine/support.ts";
import { committedOffsets, highWatermarks, kafkaSuite, produce, readTopic } from "../../../dev/support/kafka.ts";
import { sinkTopics } from "./kafka-topics.ts";

const kafka = kafkaSuite();
const PARTITIONS = 3;
const UNIQUE = 600;
const DUPLICATES = 60;
const INVALID = 20;

describeWith("postgres", "two sinks in one pipeline (persist, then kafkaSink)", () => {
  let sql: postgres.Sql;
  const table = uniqueName("two_sinks");

  beforeAll(() => {
    sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql?.unsafe(`DROP TABLE IF EXISTS public.${table} CASCADE`);
    await sql?.end();
  });

  test("every distinct event is one row and one record; offsets commit after both sinks", async () => {
    const { topic, out, group } = await sinkTopics(kafka(), PARTITIONS);
    const time = new Date().toISOString();
    const value = (n: number) => JSON.stringify({ specversion: "1.0", id: `e${n}`, source: "/two", type: "t.two", time, data: { n } });
    const total = UNIQUE + DUPLICATES + INVALID;
    await produce(kafka().bootstraps, topic, total, PARTITIONS, (i) => {
      if (i < UNIQUE) return { key: `k${i}`, value: value(i) };
      if (i < UNIQUE + DUPLICATES) return { key: `d${i}`, value: value(i - UNIQUE) };
      return { key: `x${i}`, value: `{"specversion":"1.0","id":"bad-${i}"` };
    });
    const stages = [enrichConfig(), dedupeConfig({ expectedPerWindow: 100_000 }), persistConfig({ table }), kafkaSinkConfig(kafka().bootstraps, out)];
    const { engine, metrics } = await makeEngine(topologyFor({ brokers: kafka().bootstraps, topic, group, stages, maxEvents: 100 }));
    await engine.start();
    try {
      await waitFor(() => engine.progress().events >= total, { timeoutMs: 90_000, what: "every event committed" });
    } finally {
      await engine.stop(20_000);
    }
    expect(engine.progress()).toMatchObject({ events: total, persisted: UNIQUE, duplicates: DUPLICATES, invalid: INVALID });
    expect(await committedOffsets(kafka().bootstraps, group, topic, PARTITIONS)).toEqual(await highWatermarks(kafka(), topic, PARTITIONS));

    const [{ rows, ids }] = await sql.unsafe(`SELECT count(*)::int AS rows, count(DISTINCT id)::int AS ids FROM public.${table}`);
    expect({ rows, ids }).toEqual({ rows: UNIQUE, ids: UNIQUE });
    const records = await readTopic(kafka().bootstraps, out, UNIQUE);
    const recordIds = records.map((r) => JSON.parse(new TextDecoder().decode(r.value!)).id as string);
    expect(recordIds.length).toBe(UNIQUE);
    expect(new Set(recordIds).size).toBe(UNIQUE);

    // Persist passed its events on (not terminal there); the Kafka sink settled them.
    expect(metrics.value(M.eventsOut, { stage: persistConfig({ table }).name, outcome: "passed" })).toBe(UNIQUE);
    expect(metrics.value(M.eventsOut, { stage: "kafkaSink", outcome: "persisted" })).toBe(UNIQUE);
    expect(metrics.total(M.kafkaSinkRecords, { outcome: "acked" })).toBe(UNIQUE);
  }, 150_000);
});
