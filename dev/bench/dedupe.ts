/**
 * Dedupe stage benchmark: keys/s through `DedupeStage.process` (in-batch dedupe, probe packing, the filter's
 * windowed test-and-set) with batches of fresh keys whose probes were precomputed as the enrich threads do,
 * several batches in flight as in the engine. The previous window is populated first, so every key is also
 * checked against it (the steady state), and the one-off download of the previous window's copy is inside the
 * measured time. onMaybeSeen is "drop" so no PostgreSQL is involved: with fresh keys the only maybe-seen keys
 * are false positives, so verification would add one tiny query per batch.
 *
 *   bun dev/bench/dedupe.ts [--keys N] [--backend redis|bitmap|bloom|memory|all] [--batch B] [--inflight F]
 *                           [--expected E] [--fpr P] [--chunk C] [--commands M] [--json]
 *
 * --inflight is batches in flight (the engine's inFlightBatches); --chunk is keys per BITFIELD / BF.INSERT and
 * --commands the Redis commands in flight per stage (the stage options chunkKeys and maxInFlight).
 *
 * Backends: memory; redis-bitmap (previous window from a local copy); redis-bitmap-remote-prev (previous
 * window read with BITFIELD GET); redis-bloom (BF.*) when REDIS_BLOOM_URL is set or REDIS_URL has BF.*.
 * With --json, one JSON line per backend on stdout, then a final combined line
 * {"keys":…,"results":[{"backend":…,"keys_per_s":…},…],"backend":…,"keys_per_s":…} whose headline backend is
 * redis-bitmap when it ran (else the first one).
 */
import Redis from "ioredis";
import { bloomLayout } from "../../shared/stages/dedupe/bloom-math.ts";
import { DedupeStage, type DedupeStageOptions } from "../../shared/stages/dedupe/index.ts";
import { DEFAULT_OPTIONS } from "../../shared/stages/dedupe/options.ts";
import { Metrics } from "../../shared/telemetry/metrics.ts";
import type { DedupeStageConfig } from "../../shared/topology/types.ts";
import type { Batch } from "../../shared/stages/batch.ts";
import { makeBatch, scanKeys, type EventSpec } from "../support/dedupe-batches.ts";
import { stageContext } from "../support/stage-context.ts";
import { dedupeConfig } from "../support/stage-configs.ts";
import { REDIS_URL } from "../support/services.ts";
import { choiceFlag, JSON_OUTPUT as json, numberFlag, progress as log } from "./flags.ts";


const keys = numberFlag("keys", 500_000);
const backendArg = choiceFlag("backend", "all", ["redis", "memory", "bitmap", "bloom", "all"]);
const batchSize = numberFlag("batch", 5_000);
const inflight = numberFlag("inflight", 4);
const expected = numberFlag("expected", 10_000_000);
const fpr = numberFlag("fpr", 0.001);
const chunkKeys = numberFlag("chunk", DEFAULT_OPTIONS.chunkKeys);
const maxInFlight = numberFlag("commands", DEFAULT_OPTIONS.maxInFlight);
const command =
  `bun dev/bench/dedupe.ts --keys ${keys} --backend ${backendArg} --batch ${batchSize} --inflight ${inflight}` +
  ` --expected ${expected} --fpr ${fpr} --chunk ${chunkKeys} --commands ${maxInFlight}${json ? " --json" : ""}`;

interface Variant {
  backend: string;
  config: Partial<DedupeStageConfig>;
  options?: DedupeStageOptions;
}

interface Result {
  backend: string;
  keys: number;
  keys_per_s: number;
  batch: number;
  inflight: number;
  k: number;
  client_cpu_us_per_key: number;
  redis_cpu_us_per_key: number | null;
  maybe_seen: number;
}

const windowMs = 3_600_000;
const w0 = 480_000; // a fixed window, so runs never share filters with the wall clock's
const windowNow = (w: number) => w * windowMs + 60_000;

/** Batches of fresh keys `${tag}-<n>` over 8 sources, probes precomputed (as enrich would). */
function batches(cfg: DedupeStageConfig, tag: string, n: number): Batch[] {
  const out: Batch[] = [];
  for (let from = 0; from < n; from += batchSize) {
    const specs: EventSpec[] = [];
    for (let i = from; i < Math.min(n, from + batchSize); i++) specs.push({ source: `/bench/src-${i % 8}`, id: `${tag}-${i}` });
    out.push(makeBatch(specs, cfg));
  }
  return out;
}

async function redisCpuSeconds(url: string): Promise<number> {
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const info = await r.info("cpu");
    const get = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0);
    return get("used_cpu_user") + get("used_cpu_sys");
  } finally {
    r.disconnect();
  }
}

async function runVariant(v: Variant): Promise<Result> {
  let now = windowNow(w0);
  const cfg = dedupeConfig({ ...v.config, expectedPerWindow: expected, falsePositiveRate: fpr, windowMs, onMaybeSeen: "drop" });
  const stage = new DedupeStage(cfg, { chunkKeys, maxInFlight, ...v.options, now: () => now, statsIntervalMs: 3_600_000 });
  const metrics = new Metrics();
  await stage.start(stageContext({ stages: [stage], configs: [cfg], metrics }));
  const isRedis = cfg.backend === "redis";
  try {
    // Previous window: a tenth of the measured volume, so it exists and holds bits.
    for (const b of batches(cfg, "prev", Math.max(batchSize, Math.round(keys / 10)))) await stage.process(b);
    now = windowNow(w0 + 1);
    const work = batches(cfg, "cur", keys);
    const redisCpu0 = isRedis ? await redisCpuSeconds(cfg.redisUrl) : 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let next = 0;
    const lane = async () => {
      while (next < work.length) await stage.process(work[next++]);
    };
    await Promise.all(Array.from({ length: inflight }, lane));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const redisCpu = isRedis ? (await redisCpuSeconds(cfg.redisUrl)) - redisCpu0 : null;
    return {
      backend: v.backend,
      keys,
      keys_per_s: Math.round(keys / seconds),
      batch: batchSize,
      inflight,
      k: bloomLayout(expected, fpr).k,
      client_cpu_us_per_key: Number(((cpu.user + cpu.system) / keys).toFixed(3)),
      redis_cpu_us_per_key: redisCpu === null ? null : Number(((redisCpu * 1e6) / keys).toFixed(3)),
      maybe_seen: metrics.total("topofleet_dedupe_maybe_seen_total"),
    };
  } finally {
    await stage.close();
    if (isRedis) {
      const r = new Redis(cfg.redisUrl, { maxRetriesPerRequest: 1 });
      const left = await scanKeys(r, cfg.prefix);
      if (left.length) await r.unlink(...left);
      r.disconnect();
    }
  }
}

async function serverHasBloom(url: string): Promise<boolean> {
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    return Array.isArray(((await r.call("COMMAND", "INFO", "BF.INSERT")) as unknown[])[0]);
  } finally {
    r.disconnect();
  }
}

const variants: Variant[] = [];
if (backendArg === "memory" || backendArg === "all") variants.push({ backend: "memory", config: { backend: "memory" } });
if (backendArg === "redis" || backendArg === "bitmap" || backendArg === "all") {
  variants.push({ backend: "redis-bitmap", config: { backend: "redis", redisMode: "bitmap", redisUrl: REDIS_URL } });
  variants.push({
    backend: "redis-bitmap-remote-prev",
    config: { backend: "redis", redisMode: "bitmap", redisUrl: REDIS_URL },
    options: { previousWindowMaxBytes: 0 },
  });
}
if (backendArg === "redis" || backendArg === "bloom" || backendArg === "all") {
  const bloomUrl = process.env.REDIS_BLOOM_URL ?? ((await serverHasBloom(REDIS_URL)) ? REDIS_URL : null);
  if (bloomUrl) variants.push({ backend: "redis-bloom", config: { backend: "redis", redisMode: "bloom", redisUrl: bloomUrl } });
  else log("redis-bloom: skipped (no BF.* on REDIS_URL and REDIS_BLOOM_URL is not set)");
}

log(`# ${command}`);
const results: Result[] = [];
for (const v of variants) {
  const r = await runVariant(v);
  results.push(r);
  log(
    `${r.backend.padEnd(26)} ${String(r.keys_per_s).padStart(9)} keys/s   k=${r.k}  batch ${r.batch} x ${r.inflight} in flight` +
      `   client ${r.client_cpu_us_per_key} µs/key` +
      (r.redis_cpu_us_per_key === null ? "" : `   redis ${r.redis_cpu_us_per_key} µs/key`) +
      `   maybe-seen ${r.maybe_seen}`,
  );
  if (json) console.log(JSON.stringify(r));
}
// The headline figure is the Redis bitmap filter (the one with a target), else the first backend run.
const headline = results.find((r) => r.backend === "redis-bitmap") ?? results[0];
if (json) console.log(JSON.stringify({ command, keys, results, backend: headline?.backend, keys_per_s: headline?.keys_per_s }));
