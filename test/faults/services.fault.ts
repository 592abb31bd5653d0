/**
 * Dependency faults under load: Redis gone for 10 s (and back empty: no persistence, the Bloom filter is
 * forgotten), PostgreSQL restarted with `pg_ctl restart`, and the persist stage's backends terminated with
 * `pg_terminate_backend`. The pipeline must pause and retry (never commit past a failure) and end exact.
 * Redis and PostgreSQL here are the suite's own instances on free ports (dev/faults), never 6379/5432.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { expectExact, FaultServices, Scenario } from "./harness.ts";

let env: FaultServices;
beforeAll(async () => {
  env = await FaultServices.start();
}, 120_000);
afterAll(async () => {
  await env?.stop();
}, 120_000);

/** Runs a scenario body and cleans up (keeping the logs when it failed). */
async function scenario(s: Scenario, body: () => Promise<void>): Promise<void> {
  let ok = false;
  try {
    await body();
    ok = true;
  } finally {
    await s.cleanup(!ok);
  }
}

describe("Redis unavailable", () => {
  test("Redis down for 10 s, then back on the same port: retries, no commit meanwhile, exact result", async () => {
    const s = new Scenario(env, { label: "redis-down-10s", events: 24_000, rate: 3000 });
    await scenario(s, async () => {
      const fleet = s.startFleet();
      const producing = s.produce();
      await s.waitCommitted(4000, 90_000);
      await env.redis.down();
      const committedWhenDown = s.committed;
      await Bun.sleep(10_000);
      // While Redis was down nothing new passed dedupe, so at most the batches already past it committed.
      const committedWhileDown = s.committed;
      await env.redis.up();
      const { manifest } = await producing;
      expect(committedWhileDown - committedWhenDown).toBeLessThan(2 * 500 * 2 + 1);
      const r = await s.finish(manifest, { exactDuplicates: true });
      expect(fleet.stderr).toContain("DEDUPE_REDIS_UNAVAILABLE");
      expectExact(r);
    });
  }, 300_000);
});

/**
 * A retriable failure logged by the stage that hit PostgreSQL first: persist (its write), or dedupe (its
 * verification of maybe-seen events against the table, through the persist stage's pool).
 */
const RETRIED_ON_POSTGRES = /"code":"(PERSIST_CONNECTION|PERSIST_TRANSIENT|DEDUPE_VERIFY_FAILED)"[^\n]*retrying the batch/;

describe("PostgreSQL faults", () => {
  test("pg_ctl restart, then a 3 s outage, under load: the persist stage retries, reconnects, and the result is exact", async () => {
    const s = new Scenario(env, { label: "pg-restart", events: 24_000, rate: 3000 });
    await scenario(s, async () => {
      const startTime = async () => (await env.sql<Array<{ t: Date }>>`SELECT pg_postmaster_start_time() AS t`)[0].t.getTime();
      const before = await startTime();
      const fleet = s.startFleet();
      const producing = s.produce();
      await s.waitCommitted(4000, 90_000);
      await env.pg.restart();
      // A restart takes ~0.2 s and may fall between two queries; the outage below is sure to hit batches.
      await s.waitCommitted(8000, 90_000);
      await env.pg.down();
      await Bun.sleep(3000);
      await env.pg.up();
      const { manifest } = await producing;
      const r = await s.finish(manifest, { exactDuplicates: true });
      expect(await startTime()).toBeGreaterThan(before);
      expect(fleet.stderr).toMatch(RETRIED_ON_POSTGRES);
      expectExact(r);
    });
  }, 300_000);

  test("pg_terminate_backend of the worker's connections under load: retried and exact", async () => {
    const s = new Scenario(env, { label: "pg-terminate", events: 24_000, rate: 3000 });
    await scenario(s, async () => {
      const fleet = s.startFleet();
      const producing = s.produce();
      await s.waitCommitted(4000, 90_000);
      // Backends terminated while running a statement (mid-batch), three times.
      const terminated = await env.pg.terminateActive("topofleet-persist:persist", 3, 30_000);
      expect(terminated).toBeGreaterThanOrEqual(3);
      const { manifest } = await producing;
      const r = await s.finish(manifest, { exactDuplicates: true });
      expect(fleet.stderr).toMatch(RETRIED_ON_POSTGRES);
      expectExact(r);
    });
  }, 300_000);
});
