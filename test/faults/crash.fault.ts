/**
 * Process faults under load: a worker SIGKILLed at the two points where a crash can break exactness (after
 * the Bloom bits are set but before the rows commit; after the rows commit but before the offsets commit),
 * and a SIGTERM of the whole fleet mid-load followed by a restart. Each ends with the exact audit.
 * The crash points come from the engine's test hook (shared/runtime/engine/fault-points.ts).
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "../../dev/support/wait.ts";
import { expectExact, faultSuite, runScenario, Scenario } from "./harness.ts";

const services = faultSuite();

describe("worker killed with SIGKILL mid-batch", () => {
  for (const point of ["dedupe", "persist"] as const) {
    test(`crash after ${point}: the restarted worker replays the batch and the result is exact`, async () => {
      const s = new Scenario(services(), { label: `kill9-after-${point}`, events: 24_000, rate: 4000 });
      await runScenario(s, async () => {
        const once = join(s.dir, "crashed");
        // The 6th batch to pass the stage: well into the stream, with earlier batches committed.
        const fleet = s.startFleet({ TOPOFLEET_FAULT: `crash-after:${point}:6`, TOPOFLEET_FAULT_ONCE: once });
        const producing = s.produce();
        await waitFor(() => existsSync(once), { timeoutMs: 60_000, what: `the crash-after:${point} hook to fire` });
        expect(readFileSync(once, "utf8")).toContain(`crash-after:${point}:6`);
        if (point === "persist") {
          // The state the crash must survive: rows durable in PostgreSQL whose offsets were never committed.
          expect(await s.rowsPastCommitted()).toBeGreaterThan(0);
        }
        await fleet.waitForStderr(/worker crashed; restarting/, 30_000);
        const { manifest } = await producing;
        // Exactly one crash: the restarted worker found the once-file and ran clean.
        // Counts come from the committed tallies: the replayed batch counts once, as persisted, not as a
        // duplicate (its invalid events may reach the at-least-once DLQ twice).
        const r = await s.finish(manifest, { exactDuplicates: false, countsExact: true, timeoutMs: 180_000, expectedCrashes: 1 });
        expectExact(r);
      });
    }, 300_000);
  }
});

describe("SIGTERM during load", () => {
  test("the fleet drains within the deadline with everything persisted committed, and a restart continues exactly", async () => {
    const deadlineMs = 20_000;
    const s = new Scenario(services(), { label: "sigterm-restart", events: 24_000, rate: 3000, shutdownDeadlineMs: deadlineMs });
    await runScenario(s, async () => {
      const first = s.startFleet();
      const producing = s.produce();
      await s.waitCommitted(6000, 90_000);
      const stop = await s.stopFleet(first, deadlineMs + 15_000);
      expect(stop.code).toBe(0);
      // The supervisor's deadline plus process exit; killed stragglers would make the exit code 1.
      expect(stop.drainMs).toBeLessThan(deadlineMs + 5_000);
      expect(first.stderr).not.toMatch(/did not stop in time|abandoning an in-flight batch/);
      // Everything the drained fleet persisted is covered by a committed offset: nothing to replay.
      expect(await s.rowsPastCommitted()).toBe(0);
      const committedAtStop = s.committed;
      const firstSummary = first.summary();
      expect(firstSummary).not.toBeNull();
      expect(firstSummary!.lost).toBe(0);

      const second = s.startFleet();
      const { manifest } = await producing;
      const r = await s.finish(manifest, { exactDuplicates: true });
      expectExact(r);
      // The two runs together saw every message once: the first one's committed count plus the second's.
      const secondSummary = second.summary()!;
      expect(firstSummary!.events + secondSummary.events).toBe(r.produced);
      expect(committedAtStop).toBeGreaterThan(0);
    });
  }, 300_000);
});
