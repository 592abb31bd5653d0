/**
 * Enrich stage benchmark: events/s through the piscina pool (what the engine sees) and directly in one
 * thread (the per-thread ceiling: parse + validate + probes + COPY line, no messaging), on ~300-byte
 * CloudEvents with a dedupe and a persist stage in the topology (so probes and COPY lines are built).
 *
 *   bun dev/bench/enrich.ts [--events N] [--threads T] [--batch B] [--in-flight F] [--binary-ratio R] [--json]
 *
 * With --json the last stdout line is {"events_per_s":…,"events_per_s_per_thread":…,"threads":…, …}.
 */
import { needsOf } from "../../shared/stages/registry.ts";
import { availableParallelism } from "node:os";
import { pack, unpack } from "msgpackr";
import { Batch, type RecordBatch } from "../../shared/stages/batch.ts";
import { createEnrichStage } from "../../shared/stages/enrich/index.ts";
import { EMBEDDED_URL } from "../../shared/stages/persist/config.ts";
import { buildEnrichPlan } from "../../shared/stages/enrich/plan.ts";
import type { EnrichSliceOk } from "../../shared/stages/enrich/protocol.ts";
import { planSlices, sliceTask } from "../../shared/stages/enrich/slices.ts";
import { EnrichThread } from "../../shared/stages/enrich/thread.ts";
import { packRecords, type RecordInput } from "../../shared/stages/records.ts";
import { createLogger } from "../../shared/telemetry/logger.ts";
import { Metrics } from "../../shared/telemetry/metrics.ts";
import { ThreadCpuSampler } from "./thread-cpu.ts";
import { dedupeConfig, enrichConfig, persistConfig } from "../support/stage-configs.ts";
import { resolvedTopology } from "../support/topology.ts";
import { JSON_OUTPUT as json, numberFlag, progress as log } from "./flags.ts";

const events = numberFlag("events", 200_000, { allowZero: true });
const threads = numberFlag("threads", Math.max(1, availableParallelism() - 1), { allowZero: true });
const batchSize = numberFlag("batch", 5_000, { allowZero: true });
const inFlight = numberFlag("in-flight", 4, { allowZero: true }); // the topology default for concurrency.inFlightBatches
const binaryRatio = numberFlag("binary-ratio", 0, { allowZero: true });
/** An hour ago, whole seconds: event times inside the persist stage's partition window (older ones are dead-lettered). */
const T0 = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
const command = `bun dev/bench/enrich.ts --events ${events} --threads ${threads} --batch ${batchSize} --in-flight ${inFlight} --binary-ratio ${binaryRatio}${json ? " --json" : ""}`;

const enc = new TextEncoder();
/** Deterministic ~300-byte events: 8 tenants, unique ids, JSON data; every 1/binaryRatio-th in binary mode. */
function makeRecords(n: number, offset0: number): RecordInput[] {
  const out: RecordInput[] = [];
  const binaryEvery = binaryRatio > 0 ? Math.round(1 / binaryRatio) : 0;
  for (let i = 0; i < n; i++) {
    const k = offset0 + i;
    const tenant = `tenant-${k % 8}`;
    const attrs = {
      specversion: "1.0",
      id: `bench-${k.toString(36)}-${(k * 2654435761) % 1e9}`,
      source: `/tenants/${tenant}/orders`,
      type: "com.example.order.created",
      time: new Date(T0 + 896_789 + k).toISOString(),
      subject: `order-${k}`,
      tenantid: tenant,
      datacontenttype: "application/json",
    };
    const data = { orderId: k, amount: (k % 1000) / 10, currency: "EUR", items: [{ sku: `sku-${k % 97}`, qty: 1 + (k % 3) }], note: "tab\there" };
    const base = { topic: "events", partition: k % 8, offset: k, timestamp: T0 + k };
    if (binaryEvery && k % binaryEvery === 0) {
      const { datacontenttype, ...ce } = attrs;
      const headers: Array<[string, Uint8Array]> = Object.entries(ce).map(([a, v]) => [`ce_${a}`, enc.encode(v)]);
      headers.push(["content-type", enc.encode(datacontenttype)]);
      out.push({ ...base, value: JSON.stringify(data), headers });
    } else out.push({ ...base, value: JSON.stringify({ ...attrs, data }) });
  }
  return out;
}

const enrichCfg = enrichConfig({ threads, tenantFromSource: true, maxEventBytes: 1 << 20 });
const topology = resolvedTopology(
  [
    enrichCfg,
    dedupeConfig({ redisUrl: "", prefix: "tf:bench", expectedPerWindow: 10_000_000, redisMode: "auto" }),
    persistConfig({ name: "persist", url: EMBEDDED_URL, table: "events", connections: 4, partitionsAheadDays: 3, maintenanceIntervalMs: 600_000 }),
  ],
  {
    file: "/bench/enrich.yaml",
    name: "bench",
    batch: { maxEvents: batchSize, maxBytes: 64 << 20, maxWaitMs: 50 },
    concurrency: { replicas: { min: 1, max: 1, lagPerReplica: 1 }, inFlightBatches: inFlight },
  },
);

// Pre-build every batch so record generation is not measured.
const batchRecords: RecordBatch[] = [];
for (let off = 0; off < events; off += batchSize) batchRecords.push(packRecords(makeRecords(Math.min(batchSize, events - off), off)));
const avgBytes = batchRecords.reduce((s, r) => s + r.values.byteLength, 0) / events;
log(`enrich bench: ${events} events of ~${avgBytes.toFixed(0)} B in batches of ${batchSize}, ${threads} thread(s), ${inFlight} batches in flight, binary ratio ${binaryRatio}`);

// 1. Directly in this thread: the per-thread ceiling of the thread function.
const plan = buildEnrichPlan(enrichCfg, topology, 0, needsOf);
const direct = new EnrichThread(plan);
let copyMs = 0;
let directMs = 0;
let directCpuMs = 0;
let lastSlice: EnrichSliceOk | null = null;
for (let pass = 0; pass < 2; pass++) {
  // Pass 0 warms the JIT; pass 1 is measured.
  copyMs = 0;
  directMs = 0;
  const cpu0 = process.threadCpuUsage();
  for (const records of batchRecords) {
    const t0 = performance.now();
    const { task } = sliceTask(records, new Uint8Array(records.size), { start: 0, end: records.size }, Date.now(), null);
    const t1 = performance.now();
    const r = await direct.run(task);
    const t2 = performance.now();
    if (!r.ok || r.rejections.length) throw new Error(`bench events must all be valid: ${JSON.stringify(r.ok ? r.rejections[0] : r)}`);
    copyMs += t1 - t0;
    directMs += t2 - t1;
    lastSlice = r;
  }
  const cpu = process.threadCpuUsage(cpu0);
  directCpuMs = (cpu.user + cpu.system) / 1000 - copyMs;
}
const directRate = events / (directMs / 1000);
// CPU time of this thread is what a dedicated core would deliver; wall time also counts time the shared CPU gave others.
const directCpuRate = events / (directCpuMs / 1000);
log(
  `direct (one thread, no messaging): ${Math.round(directRate).toLocaleString()} events/s wall (${((directMs * 1000) / events).toFixed(2)} µs/event), ` +
    `${Math.round(directCpuRate).toLocaleString()} events per thread-CPU-second (${((directCpuMs * 1000) / events).toFixed(2)} µs CPU/event)`,
);
log(`slice task on the main thread (views of the shared batch): ${((copyMs * 1000) / events).toFixed(3)} µs/event`);

// 2. Result transports on the last slice: what the main thread pays per event to receive the columns.
{
  const s = lastSlice!;
  const n = s.time.length;
  const columns: Record<string, Array<string | null>> = {};
  for (const [c, p] of Object.entries(s.strings)) {
    const arr: Array<string | null> = new Array(n);
    let q = 0;
    for (let i = 0; i < n; i++) {
      const len = p.lengths[i];
      arr[i] = len < 0 ? null : p.text.substring(q, (q += len));
    }
    columns[c] = arr;
  }
  const reps = 20;
  const measure = (f: () => unknown) => {
    f();
    const t = performance.now();
    for (let r = 0; r < reps; r++) f();
    return (((performance.now() - t) / reps) * 1000) / n;
  };
  const joined = measure(() => structuredClone(s.strings));
  const cloned = measure(() => structuredClone(columns));
  const packed = measure(() => unpack(pack(columns)));
  log(`result transport, clone/pack + unpack per event: joined columns ${joined.toFixed(3)} µs, string arrays ${cloned.toFixed(3)} µs, msgpackr ${packed.toFixed(3)} µs`);
}

// 3. Through the pool, as the engine drives it: inFlightBatches batches in flight.
const stage = createEnrichStage(enrichCfg);
await stage.start({
  topology,
  workerId: 0,
  logger: createLogger({ level: "warn", component: "bench" }),
  metrics: new Metrics(),
  needsOf,
  dataDir: "/tmp",
  stages: [],
});
async function throughPool(): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < batchRecords.length) {
      const b = new Batch(batchRecords[next++]);
      await stage.process(b);
      if (b.count(0) !== b.size) throw new Error("bench events must all pass");
    }
  };
  await Promise.all(Array.from({ length: topology.concurrency.inFlightBatches }, lane));
  return performance.now() - t0;
}
await throughPool(); // warm-up pass
const poolCpu0 = process.cpuUsage();
// Per thread kind (main "bun", enrich "Worker", "JITWorker", GC "HeapHelper"): where the pool's CPU goes.
const threadsBefore = new ThreadCpuSampler(() => [process.pid]).start(60_000).stop();
const threadSampler = new ThreadCpuSampler(() => [process.pid]).start(250);
const poolMs = await throughPool();
const poolCpu = process.cpuUsage(poolCpu0);
const threadsAfter = threadSampler.stop();
const poolThreadUs = threadsAfter.map((t) => ({
  kind: t.kind,
  us: ((t.cpuSeconds - (threadsBefore.find((b) => b.kind === t.kind)?.cpuSeconds ?? 0)) * 1e6) / events,
}));
await stage.close();
const poolRate = events / (poolMs / 1000);
const poolCpuUs = (poolCpu.user + poolCpu.system) / events;
log(
  `through the pool: ${Math.round(poolRate).toLocaleString()} events/s, ${Math.round(poolRate / threads).toLocaleString()} events/s per thread ` +
    `(slices per batch: ${planSlices(batchSize, threads).length}; process CPU, all threads: ${poolCpuUs.toFixed(2)} µs/event)`,
);
log(`  by thread kind: ${poolThreadUs.filter((t) => t.us >= 0.01).map((t) => `${t.kind} ${t.us.toFixed(2)} µs/event`).join(", ")}`);
log(`command: ${command}`);
if (json) {
  console.log(
    JSON.stringify({
      events_per_s: Math.round(poolRate),
      events_per_s_per_thread: Math.round(poolRate / threads),
      threads,
      direct_events_per_s: Math.round(directRate),
      direct_events_per_cpu_s: Math.round(directCpuRate),
      process_cpu_us_per_event: Number(poolCpuUs.toFixed(3)),
      events,
      batch: batchSize,
      in_flight: inFlight,
      avg_event_bytes: Math.round(avgBytes),
      binary_ratio: binaryRatio,
    }),
  );
}
