/**
 * Kafka sink benchmark: records/s through `KafkaSinkStage.process` to a fresh topic, batches of --batch
 * events enriched beforehand by the real enrich stage (so structured mode gets the JSON the threads build),
 * --in-flight batches at once, each resolved when every record is acknowledged (idempotent, acks=all).
 * --dirty R changes that share of events after enrich (Batch.updateEvent), whose records are then encoded on
 * the main thread: the cost of the re-encode path. On librdkafka's in-process mock cluster unless --brokers.
 *
 *   bun dev/bench/kafka-sink.ts [--events N] [--batch B] [--in-flight F] [--mode structured|binary]
 *                               [--dirty R] [--brokers host:port] [--json]
 *
 * With --json the last stdout line is {"records_per_s":…,"cpu_us_per_record":…,…}.
 */
import { Admin, MockCluster } from "../../shared/kafka/index.ts";
import { Flags, parseFlags } from "../../shared/loadgen/cli-flags.ts";
import { Batch, EventStatus } from "../../shared/stages/batch.ts";
import { createEnrichStage } from "../../shared/stages/enrich/index.ts";
import { KafkaSinkStage } from "../../shared/stages/kafka-sink/sink.ts";
import { packRecords } from "../../shared/stages/records.ts";
import { Metrics } from "../../shared/telemetry/metrics.ts";
import { stageContext } from "../support/stage-context.ts";
import { enrichConfig, kafkaSinkConfig } from "../support/stage-configs.ts";

const f = new Flags(
  parseFlags(Bun.argv.slice(2), {
    events: { type: "string" },
    batch: { type: "string" },
    "in-flight": { type: "string" },
    mode: { type: "string" },
    dirty: { type: "string" },
    brokers: { type: "string" },
    json: { type: "boolean" },
  }).values,
);
const json = f.bool("json");
const events = f.int("events", 100_000, 1)!;
const batchSize = f.int("batch", 5_000, 1)!;
const inFlight = f.int("in-flight", 4, 1)!;
const mode = f.oneOf("mode", ["structured", "binary"] as const, "structured");
const dirty = f.ratio("dirty", 0);
const brokersArg = f.string("brokers");
const command =
  `bun dev/bench/kafka-sink.ts --events ${events} --batch ${batchSize} --in-flight ${inFlight} --mode ${mode} --dirty ${dirty}` +
  `${brokersArg ? " --brokers <brokers>" : ""}${json ? " --json" : ""}`;
const log = (s: string) => (json ? console.error(s) : console.log(s));

const PARTITIONS = 8;
const topic = `bench_kafka_sink_${process.pid}_${Date.now().toString(36)}`;
const mock = brokersArg ? null : await MockCluster.start({ brokers: 1 });
const brokers = brokersArg ?? mock!.bootstraps;
if (mock) mock.createTopic(topic, PARTITIONS);
else {
  const admin = new Admin({ config: { "bootstrap.servers": brokers } });
  await admin.createTopics([{ name: topic, partitions: PARTITIONS }]);
  await admin.close();
}

const cfg = kafkaSinkConfig(brokers, topic, { mode, deliveryTimeoutMs: 30_000, properties: { "linger.ms": "5" } });
const enrichCfg = enrichConfig({ threads: 1 });
const metrics = new Metrics();
const enrich = createEnrichStage(enrichCfg);
const sink = new KafkaSinkStage(cfg);
try {
  await enrich.start(stageContext({ configs: [enrichCfg, cfg], metrics }));
  await sink.start(stageContext({ configs: [enrichCfg, cfg], metrics }));
  const time = new Date().toISOString();
  const work: Batch[] = [];
  for (let start = 0; start < events; start += batchSize) {
    const n = Math.min(batchSize, events - start);
    const records = Array.from({ length: n }, (_, j) => {
      const k = start + j;
      const value = JSON.stringify({
        specversion: "1.0", id: `evt-${k.toString(36)}`, source: `/tenants/t${k % 16}/orders`, type: "com.example.order.created", subject: `order-${k}`, time,
        tenantid: `t${k % 16}`, data: { order: k, customer: `c${k % 9973}`, amount: (k % 10000) / 100, currency: "EUR" },
      });
      return { topic: "in", partition: k % 8, offset: k, timestamp: Date.now(), value };
    });
    const b = new Batch(packRecords(records));
    await enrich.process(b);
    // Every 1/dirty-th event changed after enrich.
    if (dirty > 0) for (let i = 0; i < n; i += Math.round(1 / dirty)) b.updateEvent(i, { subject: `changed-${i}` });
    work.push(b);
  }
  log(`# ${command}`);
  log(`kafka sink bench: ${events} events, batches of ${batchSize}, ${inFlight} in flight, ${mode} mode, ${dirty * 100}% changed after enrich, ${mock ? "mock cluster" : "real brokers"}`);
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < work.length) await sink.process(work[next++]);
  }));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const acked = work.reduce((n, b) => n + b.count(EventStatus.Persisted), 0);
  if (acked !== events) throw new Error(`only ${acked} of ${events} events came back durable`);
  const result = {
    records_per_s: Math.round(events / seconds),
    seconds: Number(seconds.toFixed(3)),
    cpu_us_per_record: Number(((cpu.user + cpu.system) / events).toFixed(2)),
    mode,
    dirty,
    batch: batchSize,
    in_flight: inFlight,
    brokers: mock ? "mock" : "real",
  };
  log(`records/s: ${result.records_per_s}  (${result.seconds} s, process CPU ${result.cpu_us_per_record} µs/record incl. librdkafka threads)`);
  if (json) console.log(JSON.stringify(result));
} finally {
  await sink.close();
  await enrich.close();
  await mock?.stop();
}
