/**
 * The Kafka sink's crash window, as its docs state it: a worker that stops after a batch's records are
 * acknowledged and before its offsets commit leaves the batch to the next worker, which produces it again.
 * Every copy carries the same source-position headers and event (but its ingest time), so a consumer that drops records by
 * (source topic, partition, offset) sees each event exactly once, and none is lost.
 */
import { expect, test } from "bun:test";
import { RuntimeError } from "../../../shared/errors/index.ts";
import { SOURCE_HEADERS } from "../../../shared/stages/kafka-sink/records.ts";
import { enrichConfig, kafkaSinkConfig } from "../../../dev/support/stage-configs.ts";
import { waitFor } from "../../../dev/support/wait.ts";
import { makeEngine, topologyFor } from "../../runtime/engine/support.ts";
import { committedOffsets, highWatermarks, kafkaSuite, produce, readTopic } from "../../../dev/support/kafka.ts";
import { sinkTopics } from "./kafka-topics.ts";

const kafka = kafkaSuite();
const PARTITIONS = 2;
const EVENTS = 400;
const text = (b: Uint8Array | null | undefined) => (b ? new TextDecoder().decode(b) : "");

test("a stop between the acks and the offset commit produces the batch again, with identical headers and the same event", async () => {
  const { topic, out, group } = await sinkTopics(kafka(), PARTITIONS);
  const time = new Date().toISOString();
  await produce(kafka().bootstraps, topic, EVENTS, PARTITIONS, (i) => ({ key: `k${i}`, value: JSON.stringify({ specversion: "1.0", id: `e${i}`, source: "/crash", type: "t", time, data: { i } }) }));
  const stages = [enrichConfig(), kafkaSinkConfig(kafka().bootstraps, out)];
  const topology = topologyFor({ brokers: kafka().bootstraps, topic, group, stages, maxEvents: 50, inFlight: 1 });

  // The first worker fails fatally right after the sink acknowledged its third batch: it stops without
  // committing that batch's offsets, as a crash there would.
  let passed = 0;
  const crashing = await makeEngine(topology, {
    faults: {
      afterStage(kind) {
        if (kind === "kafkaSink" && ++passed === 3) throw new RuntimeError("RUNTIME_STAGE_FAILED", "simulated crash after the sink's acks", { retriable: false });
      },
    },
  });
  await crashing.engine.start();
  await expect(crashing.engine.finished).rejects.toThrow(/simulated crash/);

  const next = await makeEngine(topology);
  await next.engine.start();
  try {
    await waitFor(async () => String(await committedOffsets(kafka().bootstraps, group, topic, PARTITIONS)) === String(await highWatermarks(kafka(), topic, PARTITIONS)), {
      timeoutMs: 60_000,
      what: "the second worker to commit every offset",
    });
  } finally {
    await next.engine.stop(20_000);
  }

  const records = await readTopic(kafka().bootstraps, out, EVENTS + 50);
  const byPosition = new Map<string, string[]>();
  for (const r of records) {
    const position = [SOURCE_HEADERS.topic, SOURCE_HEADERS.partition, SOURCE_HEADERS.offset].map((h) => text(r.headers.get(h))).join("/");
    byPosition.set(position, [...(byPosition.get(position) ?? []), text(r.value)]);
  }
  // Nothing lost, the crashed batch produced twice.
  expect(byPosition.size).toBe(EVENTS);
  expect(records.length).toBeGreaterThan(EVENTS);
  // The same event but for the time it was ingested (the `ingestedat` extension, which says when, so differs).
  const withoutIngest = (v: string) => JSON.stringify({ ...JSON.parse(v), ingestedat: undefined });
  for (const copies of byPosition.values()) expect(new Set(copies.map(withoutIngest)).size).toBe(1);
  expect(new Set(records.map((r) => text(r.headers.get("ce_id")))).size).toBe(EVENTS);
}, 120_000);
