/**
 * topologies/filter.yaml end to end (mock cluster + generator, embedded PostgreSQL): events a filter drops are
 * counted as filtered, those it dead-letters as invalid, and none is lost.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { REPO, runCliToEnd } from "../../dev/support/cli-process.ts";
import { freePort } from "../../dev/support/net.ts";
import { tempDir } from "../../dev/support/temp-dir.ts";

const tmp = tempDir("filter-demo");
afterAll(() => tmp.cleanup());

describe("filter topology", () => {
  test("--max-events 6000 --json: filtered events are accounted, nothing lost", async () => {
    const r = await runCliToEnd([join(REPO, "topologies/filter.yaml"), "--max-events", "6000", "--json", "--data-dir", join(tmp.dir, "data")], {
      TOPOFLEET_HTTP_PORT: String(await freePort()),
    });
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expect(s.lost).toBe(0);
    // The generator spreads events over three order types: the filter drops one of them (about a third).
    expect(s.filtered).toBeGreaterThan(s.events / 5);
    expect(s.filtered).toBeLessThan(s.events / 2);
    expect(s.persisted + s.duplicates + s.invalid + s.filtered).toBe(s.events);
  }, 120_000);
});
