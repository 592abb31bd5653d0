/**
 * Tracing end to end: the engine with the real enrich stage on the mock cluster, exporting over OTLP/HTTP to an
 * in-process receiver. Asserts span names, the parent of every step span, batch attributes (partition, offsets,
 * counts), links to the producers' traceparent (binary-mode header and structured attribute), sampling, and that
 * a failing collector neither stalls the pipeline nor goes uncounted.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { MockCluster } from "../../shared/kafka/index.ts";
import { M } from "../../shared/telemetry/names.ts";
import { parseTraceparent } from "../../shared/tracing/traceparent.ts";
import { TRACING_OFF } from "../../shared/topology/defaults.ts";
import type { TracingConfig } from "../../shared/topology/types.ts";
import { OtlpReceiver } from "../support/otlp-receiver.ts";
import { fixture, makeEngine, topologyFor, uniqueName } from "../runtime/engine/support.ts";
import { produce } from "../../dev/support/kafka.ts";
import { waitFor } from "../../dev/support/wait.ts";

let mock: MockCluster;
let receiver: OtlpReceiver;
beforeAll(async () => {
  mock = await MockCluster.start({ brokers: 1 });
  receiver = new OtlpReceiver().start();
});
afterAll(async () => {
  receiver?.stop();
  await mock?.stop();
});

const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");
const producerTrace = (i: number) => ({ traceId: hex(0xabc000 + i, 32), spanId: hex(0xdef000 + i, 16) });
const enc = new TextEncoder();

/** Event i: even ones structured with a traceparent attribute, odd ones binary mode with ce_traceparent / ce_tracestate headers. */
function event(i: number) {
  const { traceId, spanId } = producerTrace(i);
  const traceparent = `00-${traceId}-${spanId}-01`;
  const attrs = { specversion: "1.0", id: `e${i}`, source: "/tenants/acme/orders", type: "order.created", time: new Date().toISOString() };
  if (i % 2 === 0) return { value: JSON.stringify({ ...attrs, traceparent, datacontenttype: "application/json", data: { i } }) };
  const headers: Array<[string, Uint8Array]> = Object.entries(attrs).map(([k, v]) => [`ce_${k}`, enc.encode(v)]);
  headers.push(["ce_traceparent", enc.encode(traceparent)], ["ce_tracestate", enc.encode(`vendor=v${i}`)], ["content-type", enc.encode("application/json")]);
  return { value: JSON.stringify({ i }), headers };
}

async function run(events: number, tracing: TracingConfig) {
  const topic = uniqueName("traced");
  mock.createTopic(topic, 2);
  mock.createTopic(`${topic}.dlq`, 1);
  await produce(mock.bootstraps, topic, events, 2, event);
  const topology = topologyFor({
    brokers: mock.bootstraps,
    topic,
    group: uniqueName("g"),
    maxEvents: 10,
    tracing,
    stages: [
      { kind: "enrich", name: "enrich", threads: 1, ingestTimestamp: true, tenantFromSource: true, maxEventBytes: 1 << 20, maxAttributes: 64, sliceTimeoutMs: 30_000, lookups: [], module: null },
      { kind: "custom", name: "sink", module: fixture("recording-sink.ts"), options: { id: uniqueName("sink") } },
    ],
  });
  const { engine, metrics } = await makeEngine(topology);
  await engine.start();
  try {
    await waitFor(() => engine.progress().events >= events, { timeoutMs: 60_000, what: "every event committed" });
  } finally {
    await engine.stop(10_000);
  }
  return { metrics, progress: engine.progress() };
}

const tracingTo = (url: string, o: Partial<TracingConfig> = {}): TracingConfig => ({ ...TRACING_OFF, endpoint: url, serviceName: "topofleet-tracetest", ...o });

test("a span per batch and step, parented to the batch span, with partition/offset/count attributes and links to producers", async () => {
  receiver.spans.length = 0;
  const { metrics } = await run(40, tracingTo(receiver.url));
  const spans = receiver.spans;
  expect([...receiver.contentTypes].some((c) => c.includes("json"))).toBe(true);
  const batches = spans.filter((s) => s.name === "batch");
  expect(batches.length).toBeGreaterThanOrEqual(4);
  expect(batches.reduce((n, b) => n + Number(b.attributes["messaging.batch.message_count"]), 0)).toBe(40);
  for (const b of batches) {
    expect(b.parentSpanId).toBe("");
    expect(b.resource["service.name"]).toBe("topofleet-tracetest");
    expect(Number(b.attributes["topofleet.offset.last"])).toBeGreaterThanOrEqual(Number(b.attributes["topofleet.offset.first"]));
    expect(b.attributes["topofleet.events.persisted"]).toBe(b.attributes["messaging.batch.message_count"]);
    const children = spans.filter((s) => s.parentSpanId === b.spanId);
    expect(children.map((c) => c.name).sort()).toEqual(["consume", "enrich", "sink"]);
    for (const c of children) expect(c.traceId).toBe(b.traceId);
    const enrich = children.find((c) => c.name === "enrich")!;
    expect(enrich.attributes["topofleet.events.in"]).toBe(b.attributes["messaging.batch.message_count"]);
    // Every event's producer trace is a link of its batch span.
    expect(b.links.length).toBe(Number(b.attributes["messaging.batch.message_count"]));
  }
  const links = batches.flatMap((b) => b.links);
  for (let i = 0; i < 40; i++) {
    const link = links.find((l) => l.spanId === producerTrace(i).spanId);
    expect(link?.traceId).toBe(producerTrace(i).traceId);
    if (i % 2 === 1) expect(link?.traceState).toBe(`vendor=v${i}`);
  }
  const commits = spans.filter((s) => s.name === "commit");
  expect(commits.length).toBeGreaterThan(0);
  expect(commits.every((c) => Array.isArray(c.attributes["topofleet.commit.offsets"]))).toBe(true);
  expect(metrics.total(M.tracingSpansExported)).toBe(spans.length);
}, 90_000);

test("sampling 0 exports no batch spans; a failing collector does not stall the pipeline and its spans are counted as dropped", async () => {
  receiver.spans.length = 0;
  await run(20, tracingTo(receiver.url, { sampling: 0 }));
  expect(receiver.spans.filter((s) => s.name === "batch").length).toBe(0);

  receiver.failing = true;
  try {
    const { metrics, progress } = await run(30, tracingTo(receiver.url, { exportTimeoutMs: 1_000 }));
    expect(progress.persisted).toBe(30);
    expect(metrics.total(M.tracingSpansDropped)).toBeGreaterThan(0);
    expect(metrics.total(M.tracingSpansExported)).toBe(0);
  } finally {
    receiver.failing = false;
  }
}, 90_000);

test("the span queue is bounded: past maxQueueSpans spans are dropped and counted, never queued", async () => {
  receiver.spans.length = 0;
  const { metrics } = await run(60, tracingTo(receiver.url, { maxQueueSpans: 3 }));
  expect(metrics.total(M.tracingSpansDropped, { reason: "queue_full" })).toBeGreaterThan(0);
}, 90_000);

test("tracing off loads nothing of OpenTelemetry (zero cost: no SDK, no exporter)", async () => {
  const proc = Bun.spawn(["bun", `${import.meta.dir}/fixtures/tracing-off.ts`], { stdout: "pipe", stderr: "inherit" });
  const out = JSON.parse((await new Response(proc.stdout).text()).trim());
  expect(await proc.exited).toBe(0);
  expect(out.tracing).toBeNull();
  expect(out.off).toBe(0);
  expect(out.control).toBeGreaterThan(0);
}, 60_000);

test("traceparent parsing follows W3C: invalid ids and version ff are refused", () => {
  expect(parseTraceparent(`00-${"a".repeat(32)}-${"b".repeat(16)}-01`)).toMatchObject({ traceFlags: 1 });
  expect(parseTraceparent(`00-${"0".repeat(32)}-${"b".repeat(16)}-01`)).toBeNull();
  expect(parseTraceparent(`00-${"a".repeat(32)}-${"0".repeat(16)}-01`)).toBeNull();
  expect(parseTraceparent(`ff-${"a".repeat(32)}-${"b".repeat(16)}-01`)).toBeNull();
  expect(parseTraceparent("garbage")).toBeNull();
});
