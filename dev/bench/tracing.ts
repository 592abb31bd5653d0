/**
 * Tracing cost benchmark: batches/s through the engine's runPipeline (three trivial stages, so the pipeline's own
 * per-batch work is what tracing is compared with) with tracing off, at 1% and at 100% sampling. Half the events
 * carry a producer's `ce_traceparent` header and half a structured `traceparent` attribute, so sampled batches pay
 * for the link scan too. Spans are exported over OTLP/HTTP to an in-process server that answers 200 without
 * decoding (its CPU is in the figures: a collector on another host would cost less).
 *
 *   bun dev/bench/tracing.ts [--batches N] [--batch B] [--json]
 *
 * With --json, one JSON line: {"batch":B,"results":[{"sampling":"off"|0.01|1,"batches_per_s":…,"us_per_batch":…,
 * "overhead_us_per_batch":…},…]}.
 */
import { EngineMetrics } from "../../shared/runtime/engine/engine-metrics.ts";
import { runPipeline, type PipelineDeps } from "../../shared/runtime/engine/batch-pipeline.ts";
import { Batch, type RecordBatch } from "../../shared/stages/batch.ts";
import { packRecords } from "../../shared/stages/records.ts";
import type { Stage } from "../../shared/stages/stage.ts";
import { createLogger } from "../../shared/telemetry/logger.ts";
import { Metrics } from "../../shared/telemetry/metrics.ts";
import { OtelTracing } from "../../shared/tracing/otel.ts";
import { TRACING_OFF } from "../../shared/topology/defaults.ts";
import { JSON_OUTPUT as json, numberFlag, progress as log } from "./flags.ts";

const batches = numberFlag("batches", 4_000);
const batchSize = numberFlag("batch", 500);

const enc = new TextEncoder();
const hex = (n: number, w: number) => n.toString(16).padStart(w, "0");
const records: RecordBatch = packRecords(
  Array.from({ length: batchSize }, (_, i) => {
    const tp = `00-${hex(i + 1, 32)}-${hex(i + 1, 16)}-01`;
    return i % 2
      ? { topic: "bench", partition: i % 8, offset: i, value: `{"i":${i}}`, headers: [["ce_traceparent", enc.encode(tp)] as [string, Uint8Array]] }
      : { topic: "bench", partition: i % 8, offset: i, value: JSON.stringify({ specversion: "1.0", id: `e${i}`, source: "/b", type: "t", traceparent: tp, data: { i } }) };
  }),
);

const passStage = (name: string, last: boolean): Stage => ({
  kind: "custom",
  name,
  async start() {},
  async process(batch) {
    if (last) for (const i of batch.liveIndexes()) batch.markPersisted(i);
  },
  async health() {
    return { ok: true };
  },
  async close() {},
});

const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("{}", { headers: { "content-type": "application/json" } }) });
const logger = createLogger({ level: "warn" });

async function measure(sampling: number | "off"): Promise<{ sampling: number | "off"; batches_per_s: number; us_per_batch: number; dropped: number }> {
  const metrics = new Metrics();
  const tracing =
    sampling === "off"
      ? null
      : new OtelTracing({ ...TRACING_OFF, endpoint: `http://127.0.0.1:${server.port}/v1/traces`, sampling }, { workerId: 0, topology: "bench" }, metrics, logger);
  const deps: PipelineDeps = {
    stages: [passStage("enrich", false), passStage("dedupe", false), passStage("persist", true)],
    metrics: new EngineMetrics(metrics),
    logger,
    workerId: 0,
    deadLetterTopic: "bench.dlq",
    deadLetterMaxBytes: 1 << 20,
    produce: async () => undefined,
    onRetrying: () => {},
    tracing,
    fetchStartedAt: () => Date.now(),
  };
  const signal = new AbortController().signal;
  for (let i = 0; i < 200; i++) await runPipeline(new Batch(records), deps, signal);
  const t0 = performance.now();
  for (let i = 0; i < batches; i++) await runPipeline(new Batch(records), deps, signal);
  const secs = (performance.now() - t0) / 1000;
  await tracing?.shutdown(5_000);
  return { sampling, batches_per_s: batches / secs, us_per_batch: (secs * 1e6) / batches, dropped: metrics.total("topofleet_tracing_spans_dropped_total") };
}

log(`tracing bench: ${batches} batches of ${batchSize} events, 3 stages; OTLP/HTTP to an in-process sink`);
const results = [];
for (const s of ["off", 0.01, 1] as const) {
  const r = await measure(s);
  results.push(r);
}
const off = results[0].us_per_batch;
for (const r of results) {
  const overhead = r.us_per_batch - off;
  Object.assign(r, { overhead_us_per_batch: overhead });
  log(
    `  sampling ${String(r.sampling).padEnd(4)}  ${r.batches_per_s.toFixed(0).padStart(7)} batches/s  ${r.us_per_batch.toFixed(1).padStart(8)} us/batch  ` +
      `overhead ${overhead.toFixed(1)} us/batch (${((overhead / batchSize) * 1000).toFixed(0)} ns/event)${r.dropped ? `, ${r.dropped} spans dropped` : ""}`,
  );
}
server.stop(true);
if (json) console.log(JSON.stringify({ batch: batchSize, results }));
