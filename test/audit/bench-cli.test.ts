/**
 * `bun run bench` (dev/bench/e2e.ts) end to end on a small run: the whole fleet against the mock cluster,
 * local Redis and PostgreSQL, then the audit. Also the retention guard: a topic too small to hold the run
 * is an invalid run (exit 2), never reported as loss.
 */
import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { describeWith } from "../support/services.ts";

const BENCH = resolve(import.meta.dir, "../../dev/bench/e2e.ts");

const run = (args: string[]) => {
  const p = Bun.spawnSync([process.execPath, BENCH, ...args], { stdout: "pipe", stderr: "pipe", timeout: 180_000 });
  const last = p.stdout.toString().trim().split("\n").at(-1) ?? "";
  let json: Record<string, unknown> | null = null;
  try {
    json = JSON.parse(last);
  } catch {
    json = null;
  }
  return { code: p.exitCode, json, stderr: p.stderr.toString() };
};

describeWith("postgres", "bun run bench", () =>
  describeWith("redis", "bun run bench (redis)", () => {
    test("a small max-throughput run passes the audit and prints the documented JSON fields", () => {
      const r = run(["--events", "3000", "--json"]);
      if (r.code !== 0) console.error(r.stderr.split("\n").filter((l) => !l.startsWith("%")).slice(-20).join("\n"));
      expect(r.code).toBe(0);
      const j = r.json!;
      for (const k of ["events", "events_per_min", "lost", "duplicated", "duplicates_dropped", "invalid", "p50_ms", "p95_ms", "p99_ms", "cpu_s_per_million", "max_rss_mb"])
        expect(j).toHaveProperty(k);
      expect(j.events).toBe(3000);
      expect(j.lost).toBe(0);
      expect(j.duplicated).toBe(0);
      expect(j.audit).toBe("pass");
      expect(j.duplicates_dropped as number).toBeGreaterThan(0);
      expect(j.invalid as number).toBeGreaterThan(0);
    }, 180_000);

    test("a mock topic that cannot hold the run is an invalid run: exit 2, no loss reported", () => {
      const r = run(["--events", "120000", "--partitions", "1", "--size", "50", "--json"]);
      expect(r.code).toBe(2);
      expect(r.json!.audit).toBe("invalid");
      expect(r.json!.lost).toBeNull();
      expect(r.stderr).toContain("INVALID RUN");
    }, 180_000);
  }),
);

describe("bun run bench usage", () => {
  test("bad flags exit 2 naming the flag", () => {
    const r = run(["--duration", "10s"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--duration needs --rate");
  });
});
