/**
 * The limit stage on real Redis: GCRA admission with a pinned Redis clock, the three policies, quotas, the
 * tenants file, bounded tenant labels, and `onRedisDown` against a Redis that is not there.
 */
import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { EventStatus } from "../../../shared/stages/batch.ts";
import { LIMIT_CODES } from "../../../shared/stages/limit/index.ts";
import { TenantLabels } from "../../../shared/stages/limit/tenant-labels.ts";
import { M } from "../../../shared/telemetry/names.ts";
import postgres from "postgres";
import { PG_URL, describeWith, uniqueName } from "../../../dev/support/services.ts";
import { batchOf, dropPrefix, startedStage } from "../../../dev/support/limit-stage.ts";
import { limitConfig, perSecond } from "../../../dev/support/stage-configs.ts";

const prefixes: string[] = [];
const cfgWith = (o: Parameters<typeof limitConfig>[0]) => {
  const c = limitConfig(o);
  prefixes.push(c.prefix);
  return c;
};
afterAll(async () => {
  for (const p of prefixes) await dropPrefix(p);
});

const codesOf = (b: ReturnType<typeof batchOf>) => [...b.rejections.values()].map((r) => r.code);
const T0 = 1_800_000_000_000;

describeWith("redis", "limit stage (real Redis)", () => {
  test("dead-letter: a tenant gets its burst now, the rest is TENANT_RATE_LIMITED; other tenants are untouched", async () => {
    let now = T0;
    const { stage, metrics } = await startedStage(cfgWith({ defaultLimit: perSecond(10, 10) }), { redisNow: () => now });
    try {
      const batch = batchOf([...Array(25).fill("flood"), "a", "b", null]);
      await stage.process(batch);
      expect(batch.count(EventStatus.Live)).toBe(13);
      expect(codesOf(batch)).toEqual(Array(15).fill(LIMIT_CODES.rateLimited));
      // Record order within the tenant: the first 10 pass.
      expect(batch.liveIndexes().slice(0, 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      // 350 ms later: 3 more slots (one per 100 ms).
      now += 350;
      const next = batchOf(Array(10).fill("flood"));
      await stage.process(next);
      expect(next.count(EventStatus.Live)).toBe(3);
      expect(metrics.total(M.limitRedisCalls, { outcome: "ok" })).toBe(2);
      expect(metrics.total(M.limitEvents, { outcome: "rate_limited" })).toBe(22);
    } finally {
      await stage.close();
    }
  });

  test("delay: the next slots are reserved and held, later ones are TENANT_DELAY_TOO_LONG; release sets them Live in time", async () => {
    const { stage } = await startedStage(cfgWith({ defaultLimit: perSecond(20, 5), onLimit: "delay", maxDelayMs: 400 }));
    try {
      const batch = batchOf([...Array(20).fill("flood"), "calm"]);
      await stage.process(batch);
      // Burst 5 now; then one slot per 50 ms within 400 ms: 8 held; the other 7 would wait longer.
      expect(batch.count(EventStatus.Live)).toBe(6);
      expect(batch.count(EventStatus.Held)).toBe(8);
      expect(codesOf(batch)).toEqual(Array(7).fill(LIMIT_CODES.delayTooLong));
      const t0 = Date.now();
      const ac = new AbortController();
      let released = 0;
      while (batch.count(EventStatus.Held) > 0) {
        await stage.released(batch, ac.signal);
        released = 8 - batch.count(EventStatus.Held);
      }
      expect(released).toBe(8);
      const took = Date.now() - t0;
      expect(took).toBeGreaterThanOrEqual(300);
      expect(took).toBeLessThan(3_000);
      // Slots were reserved fleet-wide: an immediate second batch of the tenant cannot pass now.
      const second = batchOf(["flood"]);
      await stage.process(second);
      expect(second.count(EventStatus.Live)).toBe(0);
    } finally {
      await stage.close();
    }
  });

  test("delay: an abandoned batch's wait rejects with the abort reason", async () => {
    const { stage } = await startedStage(cfgWith({ defaultLimit: perSecond(1, 1), onLimit: "delay", maxDelayMs: 5_000 }));
    try {
      const batch = batchOf(["x", "x"]);
      await stage.process(batch);
      expect(batch.count(EventStatus.Held)).toBe(1);
      const ac = new AbortController();
      const waiting = stage.released(batch, ac.signal);
      ac.abort(new Error("revoked"));
      await expect(waiting).rejects.toThrow("revoked");
      // Held events the stage never held would never be released: a loud error, not a spin.
      const foreign = batchOf(["y"]);
      foreign.hold(0);
      await expect(stage.released(foreign, new AbortController().signal)).rejects.toMatchObject({ code: "LIMIT_CONFIG" });
    } finally {
      await stage.close();
    }
  });

  test("quota: events past the window's quota are TENANT_QUOTA_EXCEEDED; pass lets them through and counts them", async () => {
    const cfg = cfgWith({ defaultLimit: perSecond(1000, 1000, 7, 60_000) });
    const { stage } = await startedStage(cfg, { redisNow: () => T0 });
    try {
      const a = batchOf(Array(5).fill("q"));
      const b = batchOf(Array(5).fill("q"));
      await stage.process(a);
      await stage.process(b);
      expect(a.count(EventStatus.Live) + b.count(EventStatus.Live)).toBe(7);
      expect(codesOf(b)).toEqual(Array(3).fill(LIMIT_CODES.quotaExceeded));
    } finally {
      await stage.close();
    }
    const passing = await startedStage({ ...cfg, onLimit: "pass" }, { redisNow: () => T0 });
    try {
      const c = batchOf(Array(4).fill("q"));
      await passing.stage.process(c);
      expect(c.count(EventStatus.Live)).toBe(4);
      expect(passing.metrics.total(M.limitEvents, { outcome: "passed_over" })).toBe(4);
    } finally {
      await passing.stage.close();
    }
  });

  test("overrides: the topology's tenants win over the tenants file, which wins over the default", async () => {
    const file = `/tmp/${uniqueName("tenants")}.json`;
    writeFileSync(file, JSON.stringify({ big: 50, both: 30 }));
    const cfg = cfgWith({ defaultLimit: perSecond(2, 2), tenants: { both: perSecond(4, 4) }, tenantsFile: file });
    const { stage } = await startedStage(cfg, { redisNow: () => T0 });
    try {
      const batch = batchOf([...Array(60).fill("big"), ...Array(60).fill("both"), ...Array(60).fill("small")]);
      await stage.process(batch);
      const live = (from: number) => batch.liveIndexes().filter((i) => i >= from && i < from + 60).length;
      expect([live(0), live(60), live(120)]).toEqual([50, 4, 2]);
    } finally {
      await stage.close();
    }
    writeFileSync(file, JSON.stringify({ bad: "lots" }));
    await expect(startedStage({ ...cfg })).rejects.toThrow(/tenant "bad" has "lots"/);
  });

  describeWith("postgres", "tenantsQuery", () => test("rates from PostgreSQL override the file and the default, and a reload picks up a change", async () => {
    const table = uniqueName("tenant_rates");
    const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
    try {
      await sql.unsafe(`CREATE TABLE public.${table} (tenant text, rate int)`);
      await sql.unsafe(`INSERT INTO public.${table} VALUES ('gold', 40), ('broken', -3)`);
      const cfg = cfgWith({ defaultLimit: perSecond(2, 2), tenantsQuery: { url: PG_URL, query: `SELECT tenant, rate FROM public.${table}`, refreshMs: 3_600_000 } });
      let now = T0;
      const { stage } = await startedStage(cfg, { redisNow: () => now });
      try {
        const first = batchOf([...Array(60).fill("gold"), ...Array(10).fill("broken")]);
        await stage.process(first);
        const live = (b: ReturnType<typeof batchOf>, from: number, n: number) => b.liveIndexes().filter((i) => i >= from && i < from + n).length;
        // gold: 40 per second (burst scaled alike); broken: a bad rate is skipped, so the default applies.
        expect([live(first, 0, 60), live(first, 60, 10)]).toEqual([40, 2]);
        await sql.unsafe(`UPDATE public.${table} SET rate = 5 WHERE tenant = 'gold'`);
        await stage.reloadTenants();
        // 10 s later gold's bucket is full again, now of its new burst (5).
        now += 10_000;
        const again = batchOf(Array(20).fill("gold"));
        await stage.process(again);
        expect(again.count(EventStatus.Live)).toBe(5);
      } finally {
        await stage.close();
      }
      await expect(startedStage(cfgWith({ tenantsQuery: { url: PG_URL, query: "SELECT nope FROM missing_table", refreshMs: 60_000 } }))).rejects.toMatchObject({
        code: "LIMIT_CONFIG",
        retriable: true,
      });
    } finally {
      await sql.unsafe(`DROP TABLE IF EXISTS public.${table}`);
      await sql.end();
    }
  }));

  test("onRedisDown: fail throws a retriable LIMIT_REDIS_UNAVAILABLE; passthrough lets events through, counted", async () => {
    const down = "redis://127.0.0.1:1/0";
    await expect(startedStage(cfgWith({ redisUrl: down }), { connectTimeoutMs: 300 })).rejects.toMatchObject({ code: "LIMIT_REDIS_UNAVAILABLE", retriable: true });
    const { stage, metrics } = await startedStage(cfgWith({ redisUrl: down, onRedisDown: "passthrough" }), { connectTimeoutMs: 300, commandTimeoutMs: 300 });
    try {
      const batch = batchOf(["a", "a", "b"]);
      await stage.process(batch);
      expect(batch.count(EventStatus.Live)).toBe(3);
      expect(metrics.total(M.limitEvents, { outcome: "passthrough" })).toBe(3);
      expect((await stage.health()).ok).toBe(true);
    } finally {
      await stage.close();
    }
  });
});

test("tenant labels: the busiest tenants are named, the rest are `other`, and the named set is bounded", () => {
  const labels = new TenantLabels(2);
  expect(labels.label("big", 1000)).toBe("big");
  expect(labels.label("big2", 900)).toBe("big2");
  for (let i = 0; i < 10_000; i++) labels.label(`noise-${i}`, 1);
  const seen = new Set<string>();
  for (let i = 0; i < 10_000; i++) seen.add(labels.label(`churn-${i}`, 1 + (i % 3)));
  seen.add(labels.label("big", 1));
  expect(seen.has("big")).toBe(true);
  expect(seen.size).toBeLessThanOrEqual(2 * 2 + 1);
  expect(seen.has("other")).toBe(true);
});
