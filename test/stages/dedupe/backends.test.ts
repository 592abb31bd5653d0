// The filter backends that share the bitmap layout must give identical answers for identical requests:
// in-process memory, Redis BITFIELD with a local copy of the previous window, and with remote reads of it.
// A tiny filter makes false positives common, so the comparison covers them too.
import { afterAll, expect, test } from "bun:test";
import Redis from "ioredis";
import type { BloomBackend, FilterRequest } from "../../../shared/stages/dedupe/backend.ts";
import { bloomLayout, probeStride, writeProbes } from "../../../shared/stages/dedupe/bloom-math.ts";
import { RedisBitmapBackend } from "../../../shared/stages/dedupe/bitmap-backend.ts";
import { Limiter } from "../../../shared/stages/dedupe/limiter.ts";
import { MemoryBackend } from "../../../shared/stages/dedupe/memory-backend.ts";
import { openRedisBackend } from "../../../shared/stages/dedupe/open-backend.ts";
import { resolveOptions } from "../../../shared/stages/dedupe/options.ts";
import { createRedis } from "../../../shared/stages/dedupe/redis-connection.ts";
import { scopeOf } from "../../../shared/stages/dedupe/windows.ts";
import { describeWith, REDIS_URL, redisUp, uniqueName } from "../../../dev/support/services.ts";
import { scanKeys } from "../../../dev/support/dedupe-batches.ts";
import { dedupeConfig } from "../../../dev/support/stage-configs.ts";

const layout = bloomLayout(200, 0.01);

/** Whether the Redis under test has BF.* (then the "bloom forced without BF.*" error cannot be provoked). */
async function hasBloom(): Promise<boolean> {
  if (!redisUp) return false;
  const r = new Redis(REDIS_URL);
  try {
    return Array.isArray(((await r.call("COMMAND", "INFO", "BF.INSERT")) as unknown[])[0]);
  } finally {
    r.disconnect();
  }
}
const serverHasBloom = await hasBloom();
if (serverHasBloom) console.warn("[skip] dedupe backends: this Redis has BF.*, so 'bloom forced without BF.*' cannot be provoked");
const windowMs = 60_000;

function request(keys: string[], window: number, tenants: Array<string | null>): FilterRequest {
  const stride = probeStride(layout);
  const probes = new Uint32Array(keys.length * stride);
  keys.forEach((k, j) => writeProbes(k, layout, probes, j * stride));
  return { window, keys, scopes: tenants.map((t) => scopeOf(t, 16)), probes, stride, nowMs: window * windowMs + 5_000 };
}

describeWith("redis", "dedupe backends agree", () => {
  const redis = new Redis(REDIS_URL);
  const prefixes: string[] = [];
  afterAll(async () => {
    for (const p of prefixes) {
      const keys = await scanKeys(redis, p);
      if (keys.length) await redis.unlink(...keys);
    }
    redis.disconnect();
  });

  const bitmap = (copyBytes: number): RedisBitmapBackend => {
    const prefix = uniqueName("tf:eq");
    prefixes.push(prefix);
    return new RedisBitmapBackend(redis, {
      prefix,
      layout,
      windowMs,
      ttlMarginMs: 60_000,
      chunkKeys: 7, // several chunks per filter, so chunk boundaries are exercised
      limiter: new Limiter(3),
      previousWindowMaxBytes: copyBytes,
      previousWindowSettleMs: 0,
      fetchPieceBytes: 7, // the 240-byte bitmaps are copied in many pieces, the last one short
    });
  };

  test("memory, bitmap with a previous-window copy and bitmap with remote reads answer the same", async () => {
    const backends: BloomBackend[] = [new MemoryBackend(layout), bitmap(1 << 20), bitmap(0)];
    const w0 = 29_000_000;
    const rounds: Array<[number, number, number]> = [
      // [window, first key, count]: overlapping ranges, rollovers, and a gap of two windows.
      [w0, 0, 150],
      [w0, 100, 150],
      [w0 + 1, 50, 200],
      [w0 + 1, 300, 100],
      [w0 + 3, 0, 120],
      [w0 + 4, 60, 120],
    ];
    let maybe = 0;
    for (const [window, first, count] of rounds) {
      const keys = Array.from({ length: count }, (_, i) => `/src\u0000id-${first + i}`);
      // A key's tenant is a function of the key, as in real data.
      const tenants = keys.map((_, i) => ((first + i) % 3 === 0 ? "acme" : (first + i) % 3 === 1 ? null : "globex"));
      const answers = await Promise.all(backends.map((b) => b.testAndSet(request(keys, window, tenants))));
      expect([...answers[1]]).toEqual([...answers[0]]);
      expect([...answers[2]]).toEqual([...answers[0]]);
      maybe += answers[0].reduce((s, v) => s + v, 0);
    }
    expect(maybe).toBeGreaterThan(100); // repeats and false positives both occurred
    const stats = await Promise.all(backends.map((b) => b.stats(w0 + 4, [scopeOf("acme", 16), "-", scopeOf("globex", 16)])));
    expect(stats[1]).toEqual(stats[0]);
    expect(stats[2]).toEqual(stats[0]);
    // Only the copying backend holds copies of the previous window.
    const reserved = (b: BloomBackend) => (b as unknown as { previous: { reservedBytes: number } }).previous.reservedBytes;
    expect(reserved(backends[1])).toBeGreaterThan(0);
    expect(reserved(backends[2])).toBe(0);
  });

  test('redisMode "auto" picks BF.* when the server has it and the bitmap otherwise', async () => {
    const cfg = dedupeConfig({ backend: "redis", redisMode: "auto" });
    const o = resolveOptions({}, cfg.windowMs);
    const conn = createRedis(cfg.redisUrl, o, () => {});
    try {
      const backend = await openRedisBackend(conn, cfg, layout, o, new Limiter(1));
      const info = (await conn.call("COMMAND", "INFO", "BF.INSERT")) as unknown[];
      expect(backend.kind).toBe(Array.isArray(info[0]) ? "bloom" : "bitmap");
    } finally {
      conn.disconnect();
    }
  });

  test.skipIf(serverHasBloom)('redisMode "bloom" on a server without BF.* is a fatal DEDUPE_CONFIG error', async () => {
    const cfg = dedupeConfig({ backend: "redis", redisMode: "bloom" });
    const o = resolveOptions({}, cfg.windowMs);
    const conn = createRedis(cfg.redisUrl, o, () => {});
    try {
      const err = await openRedisBackend(conn, cfg, layout, o, new Limiter(1)).catch((e) => e);
      expect([err.code, err.retriable]).toEqual(["DEDUPE_CONFIG", false]);
    } finally {
      conn.disconnect();
    }
  });
});
