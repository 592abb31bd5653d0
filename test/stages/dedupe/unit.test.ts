// Unit tests of the dedupe stage's pure parts: probe math, RESP encoding, windows and key names, in-batch
// dedupe, probe packing, the previous-window cache, the limiter, error mapping and config validation.
import { describe, expect, test } from "bun:test";
import { Command, ReplyError } from "ioredis";
import { DedupeError, PersistError } from "../../../shared/errors/index.ts";
import { EventStatus } from "../../../shared/stages/batch.ts";
import { bloomLayout, probeStride, writeProbes } from "../../../shared/stages/dedupe/bloom-math.ts";
import { groupByFilter } from "../../../shared/stages/dedupe/backend.ts";
import { dropInBatchDuplicates } from "../../../shared/stages/dedupe/in-batch.ts";
import { createDedupeStage } from "../../../shared/stages/dedupe/index.ts";
import { Limiter } from "../../../shared/stages/dedupe/limiter.ts";
import { bitAt, PreviousWindowCache } from "../../../shared/stages/dedupe/prev-window.ts";
import { packProbes } from "../../../shared/stages/dedupe/probes.ts";
import { redisError } from "../../../shared/stages/dedupe/redis-connection.ts";
import { encodeBitfield } from "../../../shared/stages/dedupe/resp-bitfield.ts";
import { encodeScriptCall } from "../../../shared/stages/dedupe/resp-bloom.ts";
import { filterKey, scopeOf, windowOf, windowTtlMs } from "../../../shared/stages/dedupe/windows.ts";
import { filterCapacity, maxFiltersPerWindow, tenantBucket } from "../../../shared/stages/dedupe/sizing.ts";
import { events, makeBatch } from "../../../dev/support/dedupe-batches.ts";
import { stageContext } from "../../../dev/support/stage-context.ts";
import { dedupeConfig } from "../../../dev/support/stage-configs.ts";

describe("bloom-math probes", () => {
  test("every offset is inside the shard and every shard index is valid", () => {
    for (const [n, p] of [
      [10, 0.001],
      [100_000, 0.01],
      [10_000_000, 0.001],
      [400_000_000, 0.001], // 5.75e9 bits: two shards
    ] as const) {
      const layout = bloomLayout(n, p);
      const stride = probeStride(layout);
      const out = new Uint32Array(stride);
      let maxShard = 0;
      let maxOffset = 0;
      for (let i = 0; i < 20_000; i++) {
        writeProbes(`/src/${i % 7}\u0000id-${i}-${n}`, layout, out, 0);
        maxShard = Math.max(maxShard, out[0]);
        for (let j = 1; j < stride; j++) maxOffset = Math.max(maxOffset, out[j]);
      }
      expect(maxShard).toBeLessThan(layout.shards);
      expect(maxOffset).toBeLessThan(layout.bitsPerShard);
    }
  });
});

describe("encodeBitfield", () => {
  const layout = { bitsPerShard: 2 ** 32, shards: 1, k: 3 };
  const probes = new Uint32Array([0, 0, 9, 10, 0, 4_294_967_295, 123_456_789, 1_000_000_000, 0, 99, 100, 101, 0, 5, 6, 7]);
  const positions = [3, 0, 1];
  const ioredisBytes = (key: string, args: Array<string | number>) => {
    const c = new Command("BITFIELD", [key, ...args]);
    return Buffer.from(c.toWritable({}) as string);
  };

  test("SET is byte-identical to what ioredis writes for the same arguments (incl. 10-digit offsets, UTF-8 key)", () => {
    const key = "tf:ünïcode:{acme}:1:0";
    const args: Array<string | number> = [];
    for (const j of positions) for (let p = 1; p <= layout.k; p++) args.push("SET", "u1", probes[j * 4 + p], 1);
    expect(encodeBitfield("SET", key, probes, 4, positions, 0, 3).equals(ioredisBytes(key, args))).toBe(true);
  });

  test("offsets of every digit count, 1 to 10, encode like ioredis", () => {
    const values = [0, 4_294_967_295];
    for (let d = 1; d <= 10; d++) values.push(10 ** (d - 1), Math.min(10 ** d - 1, 4_294_967_295), Math.min(7 * 10 ** (d - 1) + 3, 4_294_967_294));
    const p = new Uint32Array(values.length * 2);
    values.forEach((v, i) => (p[i * 2 + 1] = v));
    const pos = values.map((_, i) => i);
    const args: Array<string | number> = [];
    for (const v of values) args.push("SET", "u1", v, 1);
    expect(encodeBitfield("SET", "k", p, 2, pos, 0, pos.length).equals(ioredisBytes("k", args))).toBe(true);
  });

  test("GET over a sub-range is byte-identical too", () => {
    const args: Array<string | number> = [];
    for (const j of positions.slice(1, 3)) for (let p = 1; p <= layout.k; p++) args.push("GET", "u1", probes[j * 4 + p]);
    expect(encodeBitfield("GET", "k", probes, 4, positions, 1, 3).equals(ioredisBytes("k", args))).toBe(true);
  });
});

describe("encodeScriptCall (the BF.* script call)", () => {
  const ioredisBytes = (args: string[]) => Buffer.from(new Command(args[0], args.slice(1)).toWritable({}) as string);

  test("is byte-identical to what ioredis writes for the same arguments (ASCII, UTF-8, NUL, long and empty items)", () => {
    const args = ["700", "60000", "CAPACITY", "100", "ERROR", "0.01", "EXPANSION", "2", "ITEMS"];
    const positions = [5, 0, 1, 2, 3, 4];
    // ASCII only (the one-pass path), then non-ASCII items or keys (encoded again with byte lengths).
    const ascii = ["/src\u0000id-1", "x".repeat(5_000), "", "y".repeat(4_095), "z".repeat(4_096), "plain"];
    const utf8 = ["/src\u0000id-1", "ünïcødé\u0000✓", "x".repeat(12_345), "", "𝄞 and a lone \ud800", "plain"];
    const cases = [
      { items: ascii, keys: ["tf:{bloom}:7:bf", "tf:{bloom}:6:bf"] },
      { items: utf8, keys: ["tf:{bloom}:7:bf", "tf:{bloom}:6:bf"] },
      { items: ascii, keys: ["tf:{ünï}:7:bf", "tf:{ünï}:6:bf"] },
    ];
    for (const { items, keys } of cases) {
      for (const ref of [
        { command: "EVALSHA" as const, script: "a".repeat(40) },
        { command: "EVAL" as const, script: "return {1, ARGV[1]}" },
      ]) {
        const ours = encodeScriptCall(ref, keys, args, items, positions, 1, 6);
        const theirs = ioredisBytes([ref.command, ref.script, "2", ...keys, ...args, ...positions.slice(1, 6).map((p) => items[p])]);
        expect(ours.equals(theirs)).toBe(true);
      }
    }
  });
});

describe("windows and key names", () => {
  test("window ids, keys and TTLs", () => {
    expect(windowOf(7_199_999, 3_600_000)).toBe(1);
    expect(windowOf(7_200_000, 3_600_000)).toBe(2);
    expect(filterKey("tf:x", "acme", 5, 0)).toBe("tf:x:{acme}:5:0");
    expect(filterKey("tf:x", "bloom", 5, "bf")).toBe("tf:x:{bloom}:5:bf");
    // Written in window 2 at its very start: lives through window 3 plus the margin.
    expect(windowTtlMs(2, 1000, 2000, 100)).toBe(2100);
    expect(windowTtlMs(2, 1000, 2999, 100)).toBe(1101);
  });

  test("scopes: shared, tenants hashed onto a bounded set of filters, missing tenant; no event text in the hash tag", () => {
    expect(scopeOf("acme", null)).toBe("bloom");
    expect(scopeOf(null, 16)).toBe("-");
    expect(scopeOf("", 16)).toBe("-");
    expect(scopeOf("acme", 16)).toBe(`t${tenantBucket("acme", 16)}`);
    expect(scopeOf("a{b}c%", 16)).toMatch(/^t\d+$/);
    // 10,000 distinct tenant ids (untrusted input) still make at most tenantFilters scopes, spread evenly.
    const counts = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      const s = scopeOf(`tenant-${i}`, 16);
      counts.set(s, (counts.get(s) ?? 0) + 1);
    }
    expect(counts.size).toBe(16);
    for (const n of counts.values()) expect(n).toBeGreaterThan(450);
  });

  test("tenant filters share expectedPerWindow: memory does not grow with the number of tenants", () => {
    const base = { expectedPerWindow: 10_000_000, perTenant: false, tenantFilters: 16 };
    expect(filterCapacity(base)).toBe(10_000_000);
    expect(maxFiltersPerWindow(base)).toBe(1);
    const perTenant = { ...base, perTenant: true };
    expect(filterCapacity(perTenant)).toBe(1_250_000); // 2 x its 1/16 share
    expect(maxFiltersPerWindow(perTenant)).toBe(17);
    const shared = bloomLayout(filterCapacity(base), 0.001);
    const tenant = bloomLayout(filterCapacity(perTenant), 0.001);
    const bytes = (l: { bitsPerShard: number; shards: number }) => (l.bitsPerShard * l.shards) / 8;
    // All 17 per-tenant filters together: about twice one shared filter, whatever the number of tenants.
    expect((bytes(tenant) * maxFiltersPerWindow(perTenant)) / bytes(shared)).toBeLessThan(2.2);
  });
});

describe("in-batch duplicates", () => {
  test("first Live occurrence stays, later ones are duplicates, non-Live and keyless events are ignored", () => {
    const cfg = dedupeConfig();
    const [a, b] = events("u", 2);
    const batch = makeBatch([a, b, a, a, b, a], cfg);
    batch.reject(0, { stage: "enrich", code: "CE_BAD_JSON", reason: "test" });
    batch.events!.dedupeKey[1] = "";
    const r = dropInBatchDuplicates(batch, batch.events!.dedupeKey);
    expect(r.firsts).toEqual([2, 4]);
    expect(r.duplicates).toBe(2);
    expect([...batch.status]).toEqual([
      EventStatus.DeadLettered,
      EventStatus.Live,
      EventStatus.Live,
      EventStatus.Duplicate,
      EventStatus.Live,
      EventStatus.Duplicate,
    ]);
  });

  test("with the enrich probes as hashes: the same answer as the key strings, and colliding probes never make a duplicate", () => {
    const cfg = dedupeConfig();
    const specs = [...events("p", 300), ...events("p", 300).filter((_, i) => i % 7 === 0), ...events("q", 50)];
    const viaSet = makeBatch(specs, cfg);
    const bySet = dropInBatchDuplicates(viaSet, viaSet.events!.dedupeKey);
    const viaProbes = makeBatch(specs, cfg);
    const ev = viaProbes.events!;
    const byProbes = dropInBatchDuplicates(viaProbes, ev.dedupeKey, ev.probes, ev.probesPerKey);
    expect(byProbes).toEqual(bySet);
    expect(byProbes.duplicates).toBe(Math.ceil(300 / 7));
    expect([...viaProbes.status]).toEqual([...viaSet.status]);
    // Every key with the same probes (k = 1 and k = 2 strides too): only string equality decides.
    for (const stride of [2, 3, 11]) {
      const batch = makeBatch([...events("c", 40), ...events("c", 5)], cfg);
      const r = dropInBatchDuplicates(batch, batch.events!.dedupeKey, new Uint32Array(45 * stride).fill(7), stride);
      expect(r.firsts).toEqual(Array.from({ length: 40 }, (_, i) => i));
      expect(r.duplicates).toBe(5);
    }
  });
});

describe("probe packing", () => {
  const cfg = dedupeConfig({ expectedPerWindow: 1000 });
  const layout = bloomLayout(filterCapacity(cfg), cfg.falsePositiveRate);
  const stride = probeStride(layout);

  test("copies the enrich stage's probes when they match the layout", () => {
    const batch = makeBatch(events("pk", 5), cfg);
    const { probes, recomputed } = packProbes(batch.events!, [4, 1], layout);
    expect(recomputed).toBe(false);
    expect([...probes.subarray(0, stride)]).toEqual([...batch.events!.probes.subarray(4 * stride, 5 * stride)]);
  });

  test("recomputes when the probes are missing, of another layout, or out of range", () => {
    const expected = (b: ReturnType<typeof makeBatch>) => {
      const out = new Uint32Array(stride);
      writeProbes(b.events!.dedupeKey[2], layout, out, 0);
      return [...out];
    };
    const missing = makeBatch(events("pk", 3), cfg);
    missing.events!.probes = new Uint32Array(0);
    missing.events!.probesPerKey = 0;
    const outOfRange = makeBatch(events("pk", 3), cfg);
    outOfRange.events!.probes[2 * stride + 3] = layout.bitsPerShard;
    for (const b of [missing, outOfRange]) {
      const r = packProbes(b.events!, [2], layout);
      expect(r.recomputed).toBe(true);
      expect([...r.probes]).toEqual(expected(b));
    }
  });

  test("groups keys by scope and shard", () => {
    const probes = new Uint32Array([0, 1, 1, 1, 0, 1, 1, 1]);
    const groups = groupByFilter({ window: 1, keys: ["a", "b", "c", "d"], scopes: ["x", "x", "y", "x"], probes, stride: 2, nowMs: 0 });
    expect(groups.map((g) => [g.scope, g.shard, g.positions])).toEqual([
      ["x", 0, [0]],
      ["x", 1, [1, 3]],
      ["y", 0, [2]],
    ]);
  });
});

describe("previous-window cache", () => {
  const opts = { windowMs: 1000, maxBytes: 100, filterBytes: 40, settleMs: 200 };

  test("fetches once per window, refreshes once after the settle delay, drops older windows", async () => {
    const fetched: string[] = [];
    const cache = new PreviousWindowCache(async (key) => {
      fetched.push(key);
      return new Uint8Array([fetched.length]);
    }, opts);
    // Window 5 is current, 4 is previous; 5050 is before 5000 + settle.
    expect(await cache.get("k4", 4, 5050)).toEqual({ kind: "local", bits: new Uint8Array([1]) });
    expect(await cache.get("k4", 4, 5100)).toEqual({ kind: "local", bits: new Uint8Array([1]) });
    expect(await cache.get("k4", 4, 5300)).toEqual({ kind: "local", bits: new Uint8Array([2]) }); // refreshed
    expect(await cache.get("k4", 4, 5900)).toEqual({ kind: "local", bits: new Uint8Array([2]) });
    expect(fetched).toEqual(["k4", "k4"]);
    await cache.get("k5", 5, 6500); // rolls over: the copy of window 4 is released
    expect(cache.reservedBytes).toBe(40);
  });

  test("answers remote over the memory budget, and forgets failed fetches", async () => {
    let fail = true;
    const cache = new PreviousWindowCache(async () => {
      if (fail) throw new Error("boom");
      return null;
    }, opts);
    await expect(cache.get("a", 1, 2500)).rejects.toThrow("boom");
    expect(cache.reservedBytes).toBe(0);
    fail = false;
    expect(await cache.get("a", 1, 2500)).toEqual({ kind: "local", bits: null });
    expect(await cache.get("b", 1, 2500)).toEqual({ kind: "local", bits: null });
    expect(await cache.get("c", 1, 2500)).toEqual({ kind: "remote" }); // 3 × 40 > 100
  });

  test("bit order matches Redis (bit 0 is the MSB of byte 0; past the end is 0)", () => {
    const bits = new Uint8Array([0b1000_0001, 0b0100_0000]);
    expect([0, 1, 7, 8, 9, 16, 1_000_000].map((o) => bitAt(bits, o))).toEqual([1, 0, 1, 0, 1, 0, 0]);
  });
});

describe("limiter", () => {
  test("never runs more than max at once and runs everything", async () => {
    const limiter = new Limiter(3);
    let active = 0;
    let peak = 0;
    const done = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        limiter.run(async () => {
          peak = Math.max(peak, ++active);
          await Bun.sleep(1 + (i % 3));
          active--;
          return i;
        }),
      ),
    );
    expect(peak).toBe(3);
    expect(done).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});

describe("error mapping", () => {
  test("connection failures are retriable UNAVAILABLE; error replies are COMMAND, retriable only when transient", () => {
    const down = redisError(new Error("Connection is closed."), "BITFIELD");
    expect([down.code, down.retriable]).toEqual(["DEDUPE_REDIS_UNAVAILABLE", true]);
    const loading = redisError(new ReplyError("LOADING Redis is loading the dataset in memory"), "BITFIELD");
    expect([loading.code, loading.retriable]).toEqual(["DEDUPE_REDIS_COMMAND", true]);
    const wrongType = redisError(new ReplyError("WRONGTYPE Operation against a key holding the wrong kind of value"), "BITFIELD");
    expect([wrongType.code, wrongType.retriable]).toEqual(["DEDUPE_REDIS_COMMAND", false]);
    const persist = redisError(new PersistError("PERSIST_CONNECTION", "x", { retriable: true }), "x");
    expect(persist.retriable).toBe(true);
  });
});

describe("stage configuration", () => {
  test("invalid sizing and windows are fatal DEDUPE_CONFIG errors", () => {
    for (const bad of [{ falsePositiveRate: 1 }, { expectedPerWindow: 0 }, { windowMs: 0 }, { keyFields: [] }, { prefix: "" }]) {
      expect(() => createDedupeStage(dedupeConfig(bad))).toThrow(DedupeError);
    }
  });

  test('onMaybeSeen "verify" without an IdentityStore after it fails at start', async () => {
    const cfg = dedupeConfig({ onMaybeSeen: "verify" });
    const stage = createDedupeStage(cfg);
    const err = await stage.start(stageContext({ stages: [stage], configs: [cfg] })).catch((e) => e);
    expect(err).toBeInstanceOf(DedupeError);
    expect([err.code, err.retriable]).toEqual(["DEDUPE_CONFIG", false]);
  });

  test("a batch without enriched events is a fatal DEDUPE_CONFIG error", async () => {
    const cfg = dedupeConfig({ onMaybeSeen: "drop" });
    const stage = createDedupeStage(cfg);
    await stage.start(stageContext({ stages: [stage], configs: [cfg] }));
    const batch = makeBatch(events("x", 1), cfg);
    batch.events = null;
    const err = await stage.process(batch).catch((e) => e);
    expect([err.code, err.retriable]).toEqual(["DEDUPE_CONFIG", false]);
    await stage.close();
  });
});
