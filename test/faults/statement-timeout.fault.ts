/**
 * A PostgreSQL statement-timeout episode, then a clean stop, through a full running topology: the fleet's
 * connections carry a short statement_timeout and the table is locked for a while mid-stream, so COPYs and
 * inserts are cancelled with SQLSTATE 57014 and retried. Afterwards a plain SIGTERM must drain and exit 0 —
 * no unhandled rejection, no worker exiting 1, no RUNTIME_WORKER_LOST — and the audit must be exact.
 */
import { describe, expect, test } from "bun:test";
import { expectExact, faultSuite, runScenario, Scenario } from "./harness.ts";

describe("statement timeouts, then a clean stop", () => {
  const services = faultSuite("mock");
  test("57014 episodes are retried; the SIGTERM after them exits 0 with nothing unhandled; the audit is exact", async () => {
    const s = await Scenario.create(services(), { label: "stmt-timeout", events: 6000, rate: 1000, partitions: 4 });
    await runScenario(s, async () => {
      await s.migrate();
      const url = new URL(s.env.pg.url);
      url.searchParams.set("options", "-c statement_timeout=300");
      const fleet = s.startFleet({ TF_FAULT_DATABASE_URL: url.toString() });
      const producing = s.produce();
      await s.waitCommitted(500);
      // Every write waits on the lock past the statement timeout: an episode of 57014 cancellations.
      await s.env.sql.begin(async (tx) => {
        await tx`LOCK TABLE ${tx(s.table)} IN ACCESS EXCLUSIVE MODE`;
        await tx`SELECT pg_sleep(4)`;
      });
      const { manifest } = await producing;
      // finish() stops the fleet with SIGTERM and fails unless it exits 0.
      const r = await s.finish(manifest, { exactDuplicates: true });
      expectExact(r);
      expect(fleet.stderr).toContain("57014");
      expect(fleet.stderr).not.toMatch(/nhandled/);
      expect(fleet.stderr).not.toContain("RUNTIME_WORKER_LOST");
      expect(fleet.stderr).not.toContain('"msg":"worker failed"');
    });
  }, 300_000);
});
