/**
 * Kafka binding benchmark: produce N messages of B bytes, then consume them all through a fresh consumer
 * group, and report messages per second for each side.
 *
 *   bun dev/bench/kafka.ts [--messages N] [--size B] [--compression none|lz4|zstd|gzip|snappy] [--header-ratio X] [--json]
 *
 * --header-ratio X: that fraction of the messages carries three headers (CloudEvents binary mode), the rest
 * none (structured mode). The consume side also reports the JS main thread's CPU per message, which (unlike
 * msg/s) stays comparable on a loaded machine.
 *
 * Runs against the in-process mock cluster (partitions sized with mockPartitionsFor so retention loses
 * nothing), or against KAFKA_BROKERS when set (the topic is created with Admin and deleted afterwards).
 * Exit codes: 0 ok, 1 consumed != produced, 2 invalid run (retention deleted data before it was read).
 * With --json the last stdout line is {"produce_msgs_per_s","consume_msgs_per_s","messages","rss_mb",...}.
 */
import { parseArgs } from "node:util";
import { threadCpuSeconds } from "./thread-cpu.ts";
import { loadavg } from "node:os";
import { Admin, Consumer, MockCluster, Producer, mockPartitionsFor, rdkafkaInfo } from "../../shared/kafka/index.ts";

const { values: args } = parseArgs({
  options: {
    messages: { type: "string", default: "1000000" },
    size: { type: "string", default: "200" },
    compression: { type: "string", default: "none" },
    partitions: { type: "string" },
    "header-ratio": { type: "string", default: "0" },
    json: { type: "boolean", default: false },
  },
});
const N = Number(args.messages);
const SIZE = Number(args.size);
const HEADER_RATIO = Number(args["header-ratio"]);
const brokers = process.env.KAFKA_BROKERS;
const command = `bun dev/bench/kafka.ts --messages ${N} --size ${SIZE} --compression ${args.compression}${args.partitions ? ` --partitions ${args.partitions}` : ""}${HEADER_RATIO ? ` --header-ratio ${HEADER_RATIO}` : ""}${args.json ? " --json" : ""}`;
const log = (s: string) => (args.json ? console.error(s) : console.log(s));

const topic = `bench_kafka_${process.pid}_${Date.now().toString(36)}`;
const partitions = Number(args.partitions ?? (brokers ? 16 : mockPartitionsFor(N, SIZE)));

let mock: MockCluster | null = null;
let bootstraps: string;
if (brokers) {
  bootstraps = brokers;
  const admin = new Admin({ config: { "bootstrap.servers": brokers } });
  await admin.createTopics([{ name: topic, partitions }]);
  await admin.close();
} else {
  mock = await MockCluster.start({ brokers: 1, topics: [{ name: topic, partitions }] });
  bootstraps = mock.bootstraps;
}
log(`librdkafka ${rdkafkaInfo().version}, ${brokers ? `brokers ${brokers}` : "in-process mock cluster"}, topic ${topic} with ${partitions} partitions`);

// ---- produce. Partition p gets the contiguous block of records [p*N/P, (p+1)*N/P): the volume is spread
// evenly (what mockPartitionsFor assumes) and producer batches are large. That matters on the mock, whose
// Fetch handler returns a single record batch per partition per request ("FIXME: Multiple messageSets" in
// rdkafka_mock_handlers.c) where a real broker returns up to max.partition.fetch.bytes: with small batches
// the bench would measure the mock's fetch round trips, not the binding.
const producer = new Producer({
  config: {
    "bootstrap.servers": bootstraps,
    "linger.ms": "20",
    "batch.num.messages": "10000",
    "queue.buffering.max.messages": "1000000",
    "queue.buffering.max.kbytes": "1048576",
    "compression.type": args.compression,
  },
});
const value = new Uint8Array(SIZE);
for (let i = 0; i < SIZE; i++) value[i] = 97 + (i % 26);
const CHUNK = 50_000;
const HEADERS: Array<[string, string]> = [
  ["ce_specversion", "1.0"],
  ["ce_type", "com.example.bench"],
  ["ce_id", "0123456789abcdef"],
];
const produceStart = performance.now();
const inFlight: Promise<void>[] = [];
let producedWithHeaders = 0;
for (let i = 0; i < N; i += CHUNK) {
  const recs = new Array(Math.min(CHUNK, N - i));
  for (let j = 0; j < recs.length; j++) {
    const k = i + j;
    // Every 1/ratio-th message (evenly spread) gets the headers.
    const withHeaders = Math.floor((k + 1) * HEADER_RATIO) > Math.floor(k * HEADER_RATIO);
    if (withHeaders) producedWithHeaders++;
    recs[j] = { topic, partition: Math.floor((k * partitions) / N), value, headers: withHeaders ? HEADERS : undefined };
  }
  inFlight.push(producer.sendBatch(recs));
  if (inFlight.length >= 4) await inFlight.shift();
}
await Promise.all(inFlight);
const produceSecs = (performance.now() - produceStart) / 1000;
await producer.close();
const produceRate = N / produceSecs;
log(`produce: ${N} x ${SIZE} B in ${produceSecs.toFixed(2)} s = ${Math.round(produceRate)} msg/s (acknowledged)`);

// ---- retention check (mock): anything deleted before being read makes the run invalid, never "fast".
let produced = 0;
let retentionLoss = false;
for (let p = 0; p < partitions; p++) {
  const wm = mock ? await mock.watermarks(topic, p) : { low: 0, high: 0 };
  if (mock) {
    if (wm.low > 0) retentionLoss = true;
    produced += wm.high;
  }
}
if (!mock) produced = N;

// ---- consume through a fresh group.
const consumer = new Consumer({
  config: {
    "bootstrap.servers": bootstraps,
    "group.id": `${topic}_g`,
    "auto.offset.reset": "earliest",
  },
});
consumer.subscribe([topic]);
const subscribed = performance.now();
let consumed = 0;
let bytes = 0;
let firstAt = 0;
let headerCount = 0;
const cpuBefore = threadCpuSeconds();
const deadline = Date.now() + Math.max(120_000, N / 20);
while (consumed < produced && Date.now() < deadline) {
  const b = await consumer.consume(10_000, 1000);
  if (b.messages.length && !firstAt) firstAt = performance.now();
  for (const m of b.messages) {
    bytes += m.value ? m.value.length : 0;
    if (m.headers) headerCount++;
  }
  consumed += b.messages.length;
  b.release();
}
const lastAt = performance.now();
const consumeCpu = threadCpuSeconds() - cpuBefore;
await consumer.close();
const consumeSecs = (lastAt - (firstAt || lastAt)) / 1000;
const consumeRate = consumeSecs > 0 ? consumed / consumeSecs : 0;
log(`consume: ${consumed} msgs (${(bytes / 1e6).toFixed(1)} MB) in ${consumeSecs.toFixed(2)} s from the first message = ${Math.round(consumeRate)} msg/s (group join took ${((firstAt - subscribed) / 1000).toFixed(2)} s); JS main thread ${consumeCpu.toFixed(2)} s CPU = ${((consumeCpu * 1e6) / Math.max(1, consumed)).toFixed(3)} µs/msg (mock broker threads excluded); ${headerCount} with headers`);

if (mock) await mock.stop();
else {
  const admin = new Admin({ config: { "bootstrap.servers": bootstraps } });
  await admin.deleteTopics([topic]).catch(() => undefined);
  await admin.close();
}

const rssMb = Math.round(process.resourceUsage().maxRSS / 1024);
log(`max RSS ${rssMb} MB`);
log(`command: ${command}`);

let exitCode = 0;
if (retentionLoss) {
  log("INVALID RUN: the mock cluster's retention deleted messages before they were consumed; use more partitions or fewer/smaller messages");
  exitCode = 2;
} else if (consumed !== N || produced !== N || headerCount !== producedWithHeaders) {
  log(`MISMATCH: produced ${produced}, consumed ${consumed}, expected ${N}; ${headerCount} with headers of ${producedWithHeaders}`);
  exitCode = 1;
}
if (args.json) {
  console.log(
    JSON.stringify({
      produce_msgs_per_s: Math.round(produceRate),
      consume_msgs_per_s: Math.round(consumeRate),
      consume_js_cpu_us_per_msg: Math.round((consumeCpu * 1e6 * 1000) / Math.max(1, consumed)) / 1000,
      with_headers: headerCount,
      header_ratio: HEADER_RATIO,
      librdkafka: rdkafkaInfo().version,
      load_avg: loadavg()[0],
      messages: consumed,
      rss_mb: rssMb,
      size_bytes: SIZE,
      partitions,
      target: brokers ? "kafka" : "mock",
      valid: exitCode === 0,
    }),
  );
}
process.exit(exitCode);
