/**
 * The engine with the real stages: enrich (thread pool) → dedupe (memory) → persist (real PostgreSQL),
 * CloudEvents from the test Kafka (mock cluster, or KAFKA_BROKERS), with duplicates and invalid events mixed in. Exact end to end: one row
 * per distinct event, duplicates counted, invalid events dead-lettered, offsets committed to the end.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import { DLQ_HEADERS } from "../../../shared/runtime/engine/dead-letter.ts";
import { parseTopology } from "../../../shared/topology/index.ts";
import { M } from "../../../shared/telemetry/names.ts";
import { PG_URL, describeWith } from "../../../dev/support/services.ts";
import { makeEngine, uniqueName } from "./support.ts";
import { committedOffsets, GROUP_TIMEOUTS, highWatermarks, kafkaSuite, pipelineTopics, produce, readTopic } from "../../../dev/support/kafka.ts";
import { waitFor } from "../../../dev/support/wait.ts";

const kafka = kafkaSuite();

const PARTITIONS = 4;
const UNIQUE = 1_200; // distinct valid events
const DUPLICATES = 150; // re-sends of earlier events (same source + id)
const INVALID = 50; // bad JSON or a missing attribute

/** Yesterday, 12:00 UTC. */
const DAY0 = (Math.floor(Date.now() / 86_400_000) - 1) * 86_400_000 + 43_200_000;

/** Builds the input: valid events, then re-sends and broken records interleaved deterministically. */
function records(): Array<{ value: string; key: string; kind: "valid" | "duplicate" | "invalid" }> {
  const event = (i: number) =>
    JSON.stringify({
      specversion: "1.0",
      id: `evt-${i}`,
      source: `/tenants/t${i % 5}/orders`,
      type: "com.example.order.created",
      // Three days within the table's retention (older times are dead-lettered as CE_TIME_TOO_OLD).
      time: new Date(DAY0 - (i % 3) * 86_400_000 + (i % 60) * 1000).toISOString(),
      datacontenttype: "application/json",
      data: { order: i, note: i % 7 === 0 ? "tab\there, newline\nthere, backslash \\" : "plain" },
    });
  const out: Array<{ value: string; key: string; kind: "valid" | "duplicate" | "invalid" }> = [];
  for (let i = 0; i < UNIQUE; i++) out.push({ value: event(i), key: `k${i}`, kind: "valid" });
  for (let d = 0; d < DUPLICATES; d++) out.splice(200 + d * 7, 0, { value: event(d * 3), key: `k${d * 3}`, kind: "duplicate" });
  for (let b = 0; b < INVALID; b++) {
    const broken = b % 2 === 0 ? `{"specversion":"1.0","id":"bad-${b}",` : JSON.stringify({ specversion: "1.0", id: `bad-${b}`, type: "x" });
    out.splice(100 + b * 23, 0, { value: broken, key: `bad${b}`, kind: "invalid" });
  }
  return out;
}

describeWith("postgres", "engine full pipeline (enrich + dedupe memory + persist on PostgreSQL)", () => {
  let sql: postgres.Sql;
  const table = uniqueName("engine_events");

  beforeAll(async () => {
    sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
  });

  afterAll(async () => {
    await sql?.unsafe(`DROP TABLE IF EXISTS public.${table} CASCADE`);
    await sql?.end();
  });

  test("every distinct event stored once, duplicates counted, invalid ones dead-lettered, offsets committed", async () => {
    const { topic, dlq, group } = await pipelineTopics(kafka(), PARTITIONS, "ce");
    const input = records();
    await produce(kafka().bootstraps, topic, input.length, PARTITIONS, (i) => ({ value: input[i].value, key: input[i].key }));

    const topology = parseTopology(
      `name: enginefull
source:
  kafka:
    brokers: ${kafka().bootstraps}
    topics: [${topic}]
    group: ${group}
    sessionTimeout: ${GROUP_TIMEOUTS["session.timeout.ms"]}ms
    heartbeatInterval: ${GROUP_TIMEOUTS["heartbeat.interval.ms"]}ms
stages:
  - enrich: { threads: 1 }
  - dedupe: { backend: memory, expectedPerWindow: 100000 }
  - persist: { url: "${PG_URL}", table: ${table}, connections: 2 }
deadLetter: { topic: ${dlq} }
batch: { maxEvents: 200, maxWait: 20ms }
concurrency: { inFlightBatches: 3 }
shutdown: { deadline: 20s }
`,
      "/test/enginefull.yaml",
      process.env,
    );
    const { engine, metrics } = await makeEngine(topology);
    await engine.start();
    try {
      await waitFor(() => engine.progress().events >= input.length, { timeoutMs: 90_000, what: "every event committed" });
    } finally {
      await engine.stop(20_000);
    }

    const progress = engine.progress();
    expect(progress).toMatchObject({ events: input.length, persisted: UNIQUE, duplicates: DUPLICATES, invalid: INVALID });
    expect(await committedOffsets(kafka().bootstraps, group, topic, PARTITIONS)).toEqual(await highWatermarks(kafka(), topic, PARTITIONS));

    const [{ rows, ids }] = await sql.unsafe(`SELECT count(*)::int AS rows, count(DISTINCT (source, id))::int AS ids FROM public.${table}`);
    expect(rows).toBe(UNIQUE);
    expect(ids).toBe(UNIQUE);
    const [tabbed] = await sql.unsafe(`SELECT data->>'note' AS note FROM public.${table} WHERE id = 'evt-7'`);
    expect(tabbed.note).toBe("tab\there, newline\nthere, backslash \\");

    const letters = await readTopic(kafka().bootstraps, dlq, INVALID);
    expect(letters.length).toBe(INVALID);
    const codes = new Set(letters.map((l) => new TextDecoder().decode(l.headers.get(DLQ_HEADERS.code) ?? new Uint8Array())));
    expect([...codes].every((c) => c.startsWith("CE_"))).toBe(true);
    expect(letters.every((l) => new TextDecoder().decode(l.headers.get(DLQ_HEADERS.stage)!) === "enrich")).toBe(true);

    // Per-stage series are recorded by the engine for every stage (no stage records its own, so none doubles).
    expect(metrics.value(M.eventsIn, { stage: "enrich" })).toBe(input.length);
    expect(metrics.value(M.eventsOut, { stage: "enrich", outcome: "passed" })).toBe(input.length - INVALID);
    expect(metrics.value(M.eventsOut, { stage: "enrich", outcome: "dead_lettered" })).toBe(INVALID);
    expect(metrics.value(M.eventsIn, { stage: "dedupe" })).toBe(input.length - INVALID);
    // A re-send is dropped by dedupe, or (when its original is still in flight) found by persist's unique key.
    const dropped = (stage: string) => metrics.value(M.eventsOut, { stage, outcome: "duplicate" });
    expect(dropped("dedupe") + dropped("persist")).toBe(DUPLICATES);
    expect(metrics.value(M.eventsOut, { stage: "persist", outcome: "persisted" })).toBe(UNIQUE);
  }, 150_000);
});
