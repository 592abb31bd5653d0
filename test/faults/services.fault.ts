/**
 * Dependency faults under load: Redis gone for 10 s (and back empty: no persistence, the Bloom filter is
 * forgotten), PostgreSQL restarted with `pg_ctl restart`, and the persist stage's backends terminated with
 * `pg_terminate_backend`. The pipeline must pause and retry (never commit past a failure) and end exact.
 * Redis and PostgreSQL here are the suite's own instances on free ports (dev/faults), never 6379/5432.
 */
import { describe, expect, test } from "bun:test";
import { expectExact, faultSuite, runScenario, Scenario } from "./harness.ts";

const services = faultSuite();

describe("Redis unavailable", () => {
  test("Redis down for 10 s, then back on the same port: retries, no commit meanwhile, exact result", async () => {
    const s = new Scenario(services(), { label: "redis-down-10s", events: 24_000, rate: 3000 });
    await runScenario(s, async () => {
      const fleet = s.startFleet();
      const producing = s.produce();
      await s.waitCommitted(4000, 90_000);
      await services().redis.down();
      const committedWhenDown = await s.committedNow();
      await Bun.sleep(10_000);
      const committedWhileDown = await s.committedNow();
      await services().redis.up();
      // Only batches already past dedupe (inFlightBatches x batch.maxEvents), plus a commit that was on its
      // way, may commit while Redis is down; at 3000 events/s an unaffected pipeline would commit ~15k more.
      expect(committedWhileDown - committedWhenDown).toBeLessThanOrEqual(2 * 2 * 500);
      const { manifest } = await producing;
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
    const s = new Scenario(services(), { label: "pg-restart", events: 24_000, rate: 3000 });
    await runScenario(s, async () => {
      const startTime = async () => (await services().sql<Array<{ t: Date }>>`SELECT pg_postmaster_start_time() AS t`)[0].t.getTime();
      const before = await startTime();
      const fleet = s.startFleet();
      const producing = s.produce();
      await s.waitCommitted(4000, 90_000);
      await services().pg.restart();
      // A restart takes ~0.2 s and may fall between two queries; the outage below is sure to hit batches.
      await s.waitCommitted(8000, 90_000);
      await services().pg.down();
      await Bun.sleep(3000);
      await services().pg.up();
      const { manifest } = await producing;
      const r = await s.finish(manifest, { exactDuplicates: true });
      expect(await startTime()).toBeGreaterThan(before);
      expect(fleet.stderr).toMatch(RETRIED_ON_POSTGRES);
      expectExact(r);
    });
  }, 300_000);

  test("pg_terminate_backend of the worker's connections under load: retried and exact", async () => {
    const s = new Scenario(services(), { label: "pg-terminate", events: 24_000, rate: 3000 });
    await runScenario(s, async () => {
      const fleet = s.startFleet();
      const producing = s.produce();
      await s.waitCommitted(4000, 90_000);
      // Backends terminated while running a statement (mid-batch), three times.
      const terminated = await services().pg.terminateActive("topofleet-persist:persist", 3, 30_000);
      expect(terminated).toBeGreaterThanOrEqual(3);
      const { manifest } = await producing;
      const r = await s.finish(manifest, { exactDuplicates: true });
      expect(fleet.stderr).toMatch(RETRIED_ON_POSTGRES);
      expectExact(r);
    });
  }, 300_000);
});
