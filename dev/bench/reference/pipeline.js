/**
 * The reference pipeline of issue #14: what a competent engineer writes the straightforward way on Node 20 with
 * the card's packages, so that topofleet's speed and CPU per event can be held against it on any host
 * (dev/bench/reference.ts runs N of these in one consumer group and audits the result exactly like e2e.ts).
 *
 *   @confluentinc/kafka-javascript (KafkaJS-compatible API, eachBatch, manual commit)
 *   -> JSON.parse + the CloudEvents required attributes (specversion 1.0, id, source, type; time RFC 3339)
 *   -> invalid ones to the dead-letter topic (original key, value and headers + an error code and reason)
 *   -> dedupe by source+id with ioredis `SET key 1 EX ttl NX` (exact; pipelined per batch)
 *   -> `postgres` INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING
 *   -> commit the batch's offsets.
 *
 * It has the weakness the straightforward design has: the Redis key is set before the row is written, so a crash
 * between the two turns the replayed events into "duplicates" and loses them. The bench has no crash, so the
 * audit measures it clean; the point here is speed and CPU, not fault tolerance.
 *
 * Configuration: one JSON object in the REFERENCE_CONFIG environment variable (see `config` below).
 * On SIGTERM or SIGINT it disconnects and prints one JSON line of counts to stdout.
 */
import { KafkaJS } from "@confluentinc/kafka-javascript";
import Redis from "ioredis";
import postgres from "postgres";

const config = JSON.parse(process.env.REFERENCE_CONFIG ?? "{}");
for (const k of ["brokers", "topic", "deadLetterTopic", "group", "table", "redisUrl", "databaseUrl", "redisPrefix"]) {
  if (typeof config[k] !== "string" || config[k] === "") {
    console.error(`reference pipeline: REFERENCE_CONFIG.${k} must be a non-empty string`);
    process.exit(2);
  }
}
/** Events per eachBatch call (the package's default is 32, which no one keeps for a database sink). */
const maxBatch = config.maxBatch ?? 5000;
/** Partitions processed at once by one process (the package's default is 1). */
const concurrency = config.concurrency ?? 1;
const ttlSeconds = config.dedupeTtlSeconds ?? 3600;

// The header names and codes topofleet's dead letters carry: the audit (shared/audit/dead-letters.ts) checks
// that each injected invalid event came back with the code its kind should produce.
const CODE_HEADER = "topofleet-error-code";
const REASON_HEADER = "topofleet-error-reason";
const CODES = { badJson: "CE_BAD_JSON", notObject: "CE_NOT_OBJECT", missing: "CE_MISSING_ATTRIBUTE", specversion: "CE_BAD_SPECVERSION", badTime: "CE_BAD_TIME" };
const STANDARD = new Set(["specversion", "id", "source", "type", "subject", "time", "data", "data_base64"]);
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

class Invalid extends Error {
  constructor(code, reason) {
    super(reason);
    this.code = code;
  }
}

const headerText = (v) => (v == null ? undefined : Array.isArray(v) ? String(v[0]) : String(v));

/** The CloudEvent of one Kafka message (structured JSON, or binary mode with ce_ headers); throws Invalid. */
function parseEvent(message) {
  const h = message.headers ?? {};
  let ev;
  let data;
  if (h.ce_specversion !== undefined) {
    ev = {};
    for (const [k, v] of Object.entries(h)) if (k.startsWith("ce_")) ev[k.slice(3)] = headerText(v);
    data = message.value === null ? null : message.value.toString("utf8");
  } else {
    if (message.value === null) throw new Invalid(CODES.badJson, "null value");
    try {
      ev = JSON.parse(message.value.toString("utf8"));
    } catch (e) {
      throw new Invalid(CODES.badJson, e.message);
    }
    if (ev === null || typeof ev !== "object" || Array.isArray(ev)) throw new Invalid(CODES.notObject, "not a JSON object");
    data = ev.data === undefined ? null : JSON.stringify(ev.data);
  }
  for (const a of ["specversion", "id", "source", "type"]) if (ev[a] == null || ev[a] === "") throw new Invalid(CODES.missing, `missing ${a}`);
  if (ev.specversion !== "1.0") throw new Invalid(CODES.specversion, `specversion ${ev.specversion}`);
  if (ev.time != null && !(RFC3339.test(ev.time) && Number.isFinite(Date.parse(ev.time)))) throw new Invalid(CODES.badTime, `time ${ev.time}`);
  const extensions = {};
  for (const k of Object.keys(ev)) if (!STANDARD.has(k)) extensions[k] = ev[k];
  return { ev, data, extensions };
}

const kafka = new KafkaJS.Kafka({ kafkaJS: { brokers: config.brokers.split(","), logLevel: KafkaJS.logLevel.ERROR } });
const consumer = kafka.consumer({
  kafkaJS: { groupId: config.group, fromBeginning: true, autoCommit: false },
  "js.consumer.max.batch.size": maxBatch,
});
const producer = kafka.producer({ kafkaJS: { acks: -1 } });
const redis = new Redis(config.redisUrl);
const sql = postgres(config.databaseUrl, { max: concurrency, onnotice: () => {} });
const counts = { consumed: 0, inserted: 0, duplicates: 0, dead_lettered: 0, batches: 0 };

/** One partition's batch, start to commit. */
async function handleBatch({ batch }) {
  const ingestedAt = new Date().toISOString();
  const rows = { id: [], source: [], type: [], subject: [], time: [], tenant: [], data: [], extensions: [], partition: [], offset: [] };
  const deadLetters = [];
  const keys = [];
  for (const m of batch.messages) {
    try {
      const { ev, data, extensions } = parseEvent(m);
      rows.id.push(ev.id);
      rows.source.push(ev.source);
      rows.type.push(ev.type);
      rows.subject.push(ev.subject ?? null);
      rows.time.push(ev.time ?? ingestedAt);
      rows.tenant.push(ev.tenantid ?? null);
      rows.data.push(data);
      rows.extensions.push(JSON.stringify(extensions));
      rows.partition.push(batch.partition);
      rows.offset.push(m.offset);
      keys.push(`${config.redisPrefix}:${ev.source}:${ev.id}`);
    } catch (e) {
      if (!(e instanceof Invalid)) throw e;
      deadLetters.push({ key: m.key, value: m.value, headers: { ...m.headers, [CODE_HEADER]: e.code, [REASON_HEADER]: e.message } });
    }
  }
  if (deadLetters.length) await producer.send({ topic: config.deadLetterTopic, messages: deadLetters });

  const pipe = redis.pipeline();
  for (const k of keys) pipe.set(k, "1", "EX", ttlSeconds, "NX");
  const results = keys.length ? await pipe.exec() : [];
  const keep = [];
  for (let i = 0; i < results.length; i++) {
    const [err, reply] = results[i];
    if (err) throw err;
    if (reply === "OK") keep.push(i);
  }
  const col = (name) => keep.map((i) => rows[name][i]);
  if (keep.length) {
    const r = await sql`
      INSERT INTO ${sql(config.table)} (id, source, type, subject, time, tenant, data, extensions, ingested_at, kafka_partition, kafka_offset)
      SELECT id, source, type, subject, time, tenant, data::jsonb, extensions::jsonb, ${ingestedAt}::timestamptz, p, o
      FROM unnest(${col("id")}::text[], ${col("source")}::text[], ${col("type")}::text[], ${col("subject")}::text[],
                  ${col("time")}::timestamptz[], ${col("tenant")}::text[], ${col("data")}::text[], ${col("extensions")}::text[],
                  ${col("partition")}::int[], ${col("offset")}::bigint[])
        AS t(id, source, type, subject, time, tenant, data, extensions, p, o)
      ON CONFLICT DO NOTHING`;
    counts.inserted += r.count;
  }
  // Durable (rows committed, dead letters acknowledged): now the offsets.
  const last = batch.messages[batch.messages.length - 1].offset;
  await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(BigInt(last) + 1n) }]);
  counts.consumed += batch.messages.length;
  counts.duplicates += keys.length - keep.length;
  counts.dead_lettered += deadLetters.length;
  counts.batches++;
}

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await consumer.disconnect().catch((e) => console.error(`disconnect: ${e.message}`));
  await producer.disconnect().catch(() => undefined);
  redis.disconnect();
  await sql.end({ timeout: 5 });
  process.stdout.write(JSON.stringify(counts) + "\n");
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

await producer.connect();
await consumer.connect();
await consumer.subscribe({ topics: [config.topic] });
await consumer.run({ partitionsConsumedConcurrently: concurrency, eachBatch: handleBatch });
console.error(`reference pipeline pid ${process.pid}: consuming ${config.topic} as ${config.group} (batch ${maxBatch}, ${concurrency} partition(s) at once)`);
