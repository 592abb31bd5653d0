/**
 * The dedupe conformance suite: the same cases against every filter backend (in-process memory, Redis BITFIELD
 * bitmap with and without the local previous-window copy, RedisBloom BF.*). Verification always goes to a real
 * PostgreSQL table (fixture PgIdentityStore), Redis is real, outages use a throw-away redis-server.
 */
import { tenantBucket } from "../../../shared/stages/dedupe/sizing.ts";
import { afterAll, afterEach, expect, test } from "bun:test";
import Redis from "ioredis";
import { EventStatus, type Batch } from "../../../shared/stages/batch.ts";
import type { Stage } from "../../../shared/stages/stage.ts";
import { DedupeError } from "../../../shared/errors/index.ts";
import { Metrics } from "../../../shared/telemetry/metrics.ts";
import { M } from "../../../shared/telemetry/names.ts";
import { createDedupeStage, DedupeStage, type DedupeStageOptions } from "../../../shared/stages/dedupe/index.ts";
import { MemoryBackend } from "../../../shared/stages/dedupe/memory-backend.ts";
import type { DedupeStageConfig } from "../../../shared/topology/types.ts";
import { indexesWith, PgIdentityStore } from "./fixture.ts";
import { events, makeBatch, scanKeys, type EventSpec } from "../../../dev/support/dedupe-batches.ts";
import { stageContext } from "../../../dev/support/stage-context.ts";
import { dedupeConfig } from "../../../dev/support/stage-configs.ts";
import { RedisInstance } from "../../../dev/faults/redis-instance.ts";

/** One backend under test. */
export interface ConformanceTarget {
  /** What the filter reports as its kind once open. */
  kind: "memory" | "bitmap" | "bloom";
  /** Config overrides selecting the backend (backend, redisUrl, redisMode). */
  config: Partial<DedupeStageConfig>;
  /** Stage options (e.g. disable the previous-window copy). */
  options?: DedupeStageOptions;
  /** Whether the outage cases can run (they need a stock redis-server binary; BF.* servers are not startable here). */
  restartable?: boolean;
  /**
   * Sizing that makes the filter answer "maybe seen" for most new keys. A fixed-size bitmap saturates with
   * expectedPerWindow 10 (the default); RedisBloom grows by adding sub-filters, so it also needs a high rate.
   */
  saturating?: Partial<DedupeStageConfig>;
}

interface Harness {
  stage: DedupeStage;
  store: PgIdentityStore | null;
  metrics: Metrics;
  cfg: DedupeStageConfig;
}

const LIVE = EventStatus.Live;
const DUP = EventStatus.Duplicate;

/** Registers the suite's tests in the current describe block. */
export function dedupeConformance(target: ConformanceTarget): void {
  const cleanups: Array<() => Promise<unknown>> = [];
  const admins = new Map<string, Redis>();
  const redisTarget = target.kind !== "memory";
  const saturating = target.saturating ?? { expectedPerWindow: 10 };

  afterEach(async () => {
    // Last in, first out: stages close before their Redis keys and tables go.
    while (cleanups.length) await cleanups.pop()!();
  });
  afterAll(async () => {
    for (const r of admins.values()) r.disconnect();
  });

  const admin = (url: string): Redis => {
    let r = admins.get(url);
    if (!r) admins.set(url, (r = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 })));
    return r;
  };

  /** Redis keys under the config's prefix (SCAN, never KEYS). */
  const keysOf = (cfg: DedupeStageConfig): Promise<string[]> => scanKeys(admin(cfg.redisUrl), cfg.prefix);

  /** A started stage (plus a fresh PostgreSQL store when verifying), cleaned up after the test. */
  const setup = async (
    overrides: Partial<DedupeStageConfig> = {},
    opts: DedupeStageOptions & { withStore?: boolean; metrics?: Metrics } = {},
  ): Promise<Harness> => {
    // Without a store there is nothing to verify against: such tests run in "drop" mode.
    const cfg = dedupeConfig({ ...target.config, ...(opts.withStore === false ? { onMaybeSeen: "drop" } : {}), ...overrides });
    const { withStore = cfg.onMaybeSeen === "verify", metrics = new Metrics(), ...stageOpts } = opts;
    const store = withStore ? await PgIdentityStore.create() : null;
    if (store) cleanups.push(() => store.drop());
    if (redisTarget) {
      cleanups.push(async () => {
        const keys = await keysOf(cfg).catch(() => [] as string[]);
        if (keys.length) await admin(cfg.redisUrl).unlink(...keys);
      });
    }
    const stage = createDedupeStage(cfg, { ...target.options, ...stageOpts }) as DedupeStage;
    cleanups.push(() => stage.close());
    const stages: Stage[] = store ? [stage, store] : [stage];
    await stage.start(stageContext({ stages, configs: [cfg], metrics }));
    return { stage, store, metrics, cfg };
  };

  const run = async (h: Harness, specs: EventSpec[], persist = false): Promise<Batch> => {
    const b = makeBatch(specs, h.cfg);
    await h.stage.process(b);
    if (persist) await h.store!.process(b);
    return b;
  };
  const counter = (h: Harness, name: string, labels: Record<string, string> = {}) => h.metrics.total(name, { stage: h.cfg.name, ...labels });

  test(`opens the ${target.kind} filter`, async () => {
    const h = await setup({}, { withStore: false });
    expect(h.stage.backendKind).toBe(target.kind);
  });

  test("drops in-batch duplicates and keeps the first occurrence Live", async () => {
    const h = await setup();
    const [a, b, c] = events("inb", 3);
    const batch = await run(h, [a, b, a, c, b, a]);
    expect([...batch.status]).toEqual([LIVE, LIVE, DUP, LIVE, DUP, DUP]);
    expect(counter(h, M.dedupeDropped, { reason: "in_batch" })).toBe(3);
    expect(h.store!.existingCalls).toBe(0);
  });

  test("cross-batch duplicates are verified in one IdentityStore call and dropped; new events stay Live", async () => {
    const h = await setup();
    const all = events("xb", 300);
    const first = await run(h, all.slice(0, 200), true);
    expect(first.count(EventStatus.Persisted)).toBe(200);
    const callsBefore = h.store!.existingCalls;
    const second = await run(h, all.slice(100, 300));
    expect(h.store!.existingCalls - callsBefore).toBe(1);
    expect(indexesWith(second, DUP)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(indexesWith(second, LIVE)).toEqual(Array.from({ length: 100 }, (_, i) => 100 + i));
    expect(counter(h, M.dedupeDropped, { reason: "verified" })).toBe(100);
    const maybe = counter(h, M.dedupeMaybeSeen);
    expect(maybe).toBeGreaterThanOrEqual(100);
    expect(counter(h, M.dedupeVerifiedNew)).toBe(maybe - 100);
  });

  test("forced false positives (tiny filter) lose nothing with verify", async () => {
    const h = await setup(saturating);
    const all = events("fp", 1000);
    let live = 0;
    for (let b = 0; b < 20; b++) {
      const batch = await run(h, all.slice(b * 50, b * 50 + 50), true);
      live += batch.count(EventStatus.Persisted);
      expect(batch.count(DUP)).toBe(0);
    }
    expect(live).toBe(1000);
    expect(await h.store!.count()).toBe(1000);
    const maybe = counter(h, M.dedupeMaybeSeen);
    expect(maybe).toBeGreaterThan(100); // the filter is saturated: it calls most keys "maybe seen"
    expect(counter(h, M.dedupeVerifiedNew)).toBe(maybe);
    expect(h.store!.existingCalls).toBeLessThanOrEqual(20);
  });

  test('onMaybeSeen "drop" loses real events at the false-positive rate (documented)', async () => {
    const h = await setup({ ...saturating, onMaybeSeen: "drop" });
    let lost = 0;
    for (let b = 0; b < 10; b++) lost += (await run(h, events(`drop${b}`, 100))).count(DUP);
    expect(lost).toBeGreaterThan(0);
    expect(counter(h, M.dedupeDropped, { reason: "filter" })).toBe(lost);
  });

  test("a crash between setting the bits and the commit loses nothing on replay", async () => {
    const h = await setup();
    const evs = events("crash", 200);
    // First attempt: the filter sets the bits, then the worker "dies" before the rows are written.
    expect((await run(h, evs)).count(LIVE)).toBe(200);
    // Replay through the same stage: every event is maybe seen, PostgreSQL says absent, all stay Live.
    const replay = await run(h, evs);
    expect(replay.count(LIVE)).toBe(200);
    expect(counter(h, M.dedupeVerifiedNew)).toBeGreaterThanOrEqual(200);
    if (redisTarget) {
      // And through a restarted worker (a new stage on the same filter).
      const restarted = createDedupeStage(h.cfg, target.options) as DedupeStage;
      cleanups.push(() => restarted.close());
      await restarted.start(stageContext({ stages: [restarted, h.store!], configs: [h.cfg] }));
      const b = makeBatch(evs, h.cfg);
      await restarted.process(b);
      expect(b.count(LIVE)).toBe(200);
    }
    await h.store!.process(replay);
    expect(await h.store!.count()).toBe(200);
    expect((await run(h, evs)).count(DUP)).toBe(200);
  });

  test("a retried batch reuses the filter's answers (the retry is not counted or asked twice)", async () => {
    const h = await setup();
    const evs = events("retry", 100);
    await run(h, evs); // bits set, nothing stored
    const batch = makeBatch(evs, h.cfg);
    await h.store!.hide(true);
    const err = await h.stage.process(batch).catch((e) => e);
    await h.store!.hide(false);
    expect(err).toBeInstanceOf(DedupeError);
    expect(err.code).toBe("DEDUPE_VERIFY_FAILED");
    expect(err.retriable).toBe(false); // mirrors the IdentityStore's error (PERSIST_SCHEMA is fatal)
    const maybeAfterFailure = counter(h, M.dedupeMaybeSeen);
    await h.stage.process(batch);
    expect(batch.count(LIVE)).toBe(100);
    expect(counter(h, M.dedupeMaybeSeen)).toBe(maybeAfterFailure);
    expect(counter(h, M.dedupeVerifiedNew)).toBe(100);
  });

  test("window rollover: the previous window still detects, two windows later it is forgotten (PostgreSQL still catches it)", async () => {
    const windowMs = 60_000;
    const w0 = 28_000_000;
    let now = w0 * windowMs + 1_000;
    const h = await setup({ windowMs }, { now: () => now });
    const a = events("roll-a", 100);
    const b = events("roll-b", 100);
    expect((await run(h, a, true)).count(EventStatus.Persisted)).toBe(100);

    now += windowMs; // window w0 + 1: a is in the previous window
    const maybe0 = counter(h, M.dedupeMaybeSeen);
    expect((await run(h, a)).count(DUP)).toBe(100);
    expect(counter(h, M.dedupeMaybeSeen) - maybe0).toBeGreaterThanOrEqual(100);
    await run(h, b, true);

    now += 2 * windowMs; // window w0 + 3: b's window (w0 + 1) is two windows back
    const maybe1 = counter(h, M.dedupeMaybeSeen);
    const forgotten = await run(h, b);
    expect(counter(h, M.dedupeMaybeSeen) - maybe1).toBeLessThan(5); // only chance false positives
    expect(forgotten.count(LIVE)).toBeGreaterThan(95);
    await h.store!.process(forgotten);
    expect(forgotten.count(LIVE)).toBe(0); // ON CONFLICT DO NOTHING drops them
    expect(await h.store!.count()).toBe(200);
  });

  test("metrics: fill ratio and estimated false-positive rate are sampled", async () => {
    const h = await setup({ expectedPerWindow: 1_000 }, { statsIntervalMs: 3_600_000 });
    await run(h, events("fill", 500));
    const s = await h.stage.sampleStats();
    expect(s).not.toBeNull();
    expect(s!.filters).toBeGreaterThanOrEqual(1);
    // 500 keys in a filter sized for 1000 at 0.1%: about 1 - e^(-k·n/m) = 29% of the bits are set.
    expect(s!.maxFillRatio).toBeGreaterThan(0.2);
    expect(s!.maxFillRatio).toBeLessThan(0.4);
    expect(s!.estimatedFpRate).toBeGreaterThan(0);
    expect(s!.estimatedFpRate).toBeLessThan(0.001);
    expect(h.metrics.value(M.dedupeFillRatio, { stage: h.cfg.name, window: "current" })).toBe(s!.maxFillRatio);
    expect(h.metrics.value(M.dedupeFpRate, { stage: h.cfg.name })).toBe(s!.estimatedFpRate);
  });

  test("health() reports the filter as reachable", async () => {
    const h = await setup({}, { withStore: false });
    const health = await h.stage.health();
    expect(health.ok).toBe(true);
    expect(health.detail).toContain(target.kind);
  });

  test("per-tenant filters are independent: the same identity under another tenant is not found", async () => {
    const h = await setup({ perTenant: true });
    const acme = events("pt", 50, "/s", "acme");
    await run(h, acme, true);
    const globex = await run(h, events("pt", 50, "/s", "globex"));
    expect(counter(h, M.dedupeMaybeSeen)).toBeLessThan(3); // only chance false positives
    expect(globex.count(LIVE)).toBeGreaterThan(47);
    const again = await run(h, acme);
    expect(again.count(DUP)).toBe(50);
  });

  if (target.kind === "memory") {
    test("the memory filter keeps only the current and previous windows", async () => {
      let now = 1_000 * 60_000;
      const h = await setup({ windowMs: 60_000 }, { now: () => now });
      const backend = (h.stage as unknown as { backend: MemoryBackend }).backend;
      for (let w = 0; w < 5; w++, now += 60_000) await run(h, events(`mem${w}`, 10));
      expect(backend.filterCount).toBe(2);
    });
  }

  if (redisTarget) {
    const shard = target.kind === "bloom" ? "bf" : "0";

    test("per-tenant filters use one hash-tagged key per tenant filter, never text from the event", async () => {
      const h = await setup({ perTenant: true }, { withStore: false });
      await run(h, [
        { source: "/s", id: "1", tenant: "acme" },
        { source: "/s", id: "2", tenant: "globex" },
        { source: "/s", id: "3", tenant: null },
        { source: "/s", id: "4", tenant: "we{ir}d" },
      ]);
      const w = Math.floor(Date.now() / h.cfg.windowMs);
      const keys = (await keysOf(h.cfg)).filter((k) => k.endsWith(`:${w}:${shard}`) || k.endsWith(`:${w - 1}:${shard}`));
      const tags = keys.map((k) => k.slice(h.cfg.prefix.length + 1, k.indexOf("}") + 1)).sort();
      const bucket = (t: string) => `{t${tenantBucket(t, h.cfg.tenantFilters)}}`;
      expect(tags).toEqual([...new Set(["{-}", bucket("acme"), bucket("globex"), bucket("we{ir}d")])].sort());
      for (const k of keys) expect(k).toMatch(new RegExp(`^${h.cfg.prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\{[^{}]+\\}:\\d+:${shard}$`));
    });

    test("shared filters use the {bloom} hash tag", async () => {
      const h = await setup({}, { withStore: false });
      await run(h, events("shared", 3, "/s", "acme"));
      const w = Math.floor(Date.now() / h.cfg.windowMs);
      expect(await keysOf(h.cfg)).toEqual([`${h.cfg.prefix}:{bloom}:${w}:${shard}`]);
    });

    test("window keys expire: TTL is set and at most two windows plus the margin", async () => {
      const windowMs = 120_000;
      const h = await setup({ windowMs }, { withStore: false, ttlMarginMs: 60_000 });
      await run(h, events("ttl", 10));
      const keys = await keysOf(h.cfg);
      expect(keys.length).toBe(1);
      const pttl = await admin(h.cfg.redisUrl).pttl(keys[0]);
      expect(pttl).toBeGreaterThan(windowMs); // survives the next window, where it is the previous one
      expect(pttl).toBeLessThanOrEqual(2 * windowMs + 60_000);
    });
  }

  if (target.restartable) {
    const servers: RedisInstance[] = [];
    afterAll(async () => {
      for (const s of servers) await s.dispose();
    });
    const ownServer = async () => {
      const s = await RedisInstance.start();
      servers.push(s);
      return s;
    };

    test("Redis down: retriable DEDUPE_REDIS_UNAVAILABLE; back up: the stage recovers", async () => {
      const server = await ownServer();
      // A long command timeout, so that a command that waited for the connection instead of failing at once
      // would show in the elapsed time below (the fail-fast options are what is under test).
      const h = await setup({ redisUrl: server.url }, { connectTimeoutMs: 500, maxReconnectDelayMs: 200, commandTimeoutMs: 30_000 });
      expect((await run(h, events("up", 50))).count(LIVE)).toBe(50);

      await server.down();
      const batch = makeBatch(events("down", 50), h.cfg);
      const started = performance.now();
      const err = await h.stage.process(batch).catch((e) => e);
      expect(err).toBeInstanceOf(DedupeError);
      expect(err.code).toBe("DEDUPE_REDIS_UNAVAILABLE");
      expect(err.retriable).toBe(true);
      expect(performance.now() - started).toBeLessThan(10_000); // failed at once, not at the 30 s command timeout
      expect(batch.count(LIVE)).toBe(50);
      expect((await h.stage.health()).ok).toBe(false);

      await server.up();
      const deadline = Date.now() + 20_000;
      for (;;) {
        try {
          await h.stage.process(batch); // the engine's retry of the same batch
          break;
        } catch (e) {
          expect((e as DedupeError).code).toBe("DEDUPE_REDIS_UNAVAILABLE");
          if (Date.now() > deadline) throw e;
          await Bun.sleep(100);
        }
      }
      expect(batch.count(LIVE)).toBe(50);
      expect((await h.stage.health()).ok).toBe(true);
      // The filter works again: a replay of the same events is caught (verified against PostgreSQL).
      await h.store!.process(batch);
      expect((await run(h, events("down", 50))).count(DUP)).toBe(50);
    });

    test("start() with Redis down fails retriably (onRedisDown: fail)", async () => {
      const server = await ownServer();
      await server.down();
      const cfg = dedupeConfig({ ...target.config, redisUrl: server.url, onMaybeSeen: "drop" });
      const stage = createDedupeStage(cfg, { ...target.options, connectTimeoutMs: 500 });
      cleanups.push(() => stage.close());
      const err = await stage.start(stageContext({ stages: [stage], configs: [cfg] })).catch((e) => e);
      expect(err).toBeInstanceOf(DedupeError);
      expect(err.code).toBe("DEDUPE_REDIS_UNAVAILABLE");
      expect(err.retriable).toBe(true);
    });

    test('onRedisDown "passthrough": events stay Live while Redis is down, the filter resumes when it is back', async () => {
      const server = await ownServer();
      await server.down();
      const h = await setup({ redisUrl: server.url, onRedisDown: "passthrough" }, { connectTimeoutMs: 500, maxReconnectDelayMs: 200 });
      expect(h.stage.backendKind).toBeNull();
      const [a, b] = events("pass", 2);
      const batch = await run(h, [a, b, a]);
      expect([...batch.status]).toEqual([LIVE, LIVE, DUP]); // in-batch dedupe needs no Redis
      expect(counter(h, M.dedupePassthrough)).toBe(2);
      expect((await h.stage.health()).ok).toBe(false);

      await server.up();
      const deadline = Date.now() + 20_000;
      while (h.stage.backendKind === null || counter(h, M.dedupeMaybeSeen) === 0) {
        if (Date.now() > deadline) throw new Error("filter did not resume after Redis came back");
        await run(h, [a, b], true);
        await Bun.sleep(100);
      }
      expect(h.stage.backendKind).toBe(target.kind);
      expect((await run(h, [a, b])).count(DUP)).toBe(2);
    });
  }
}
