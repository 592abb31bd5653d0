/**
 * `bun run bench` (dev/bench/e2e.ts) end to end on a small run: the whole fleet against the mock cluster,
 * local Redis and PostgreSQL, then the audit. Also the retention guard: a topic too small to hold the run
 * is an invalid run (exit 2), never reported as loss.
 */
import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { describeIf, describeWith, type Requirement } from "../../dev/support/services.ts";
import { compareWith, type Baseline } from "../../dev/bench/compare.ts";
import { localListenerPid } from "../../dev/bench/service-cpu.ts";
import { runJsonScript } from "../../dev/support/cli-process.ts";

const BENCH = resolve(import.meta.dir, "../../dev/bench/e2e.ts");

const run = (args: string[]) => runJsonScript(BENCH, args);

/** The fleet's, Redis's and the co-resident services' CPU per million events of an e2e JSON line. */
function accountWithoutGenerator(j: Record<string, unknown>): number {
  const services = Object.values((j.service_cpu_s_per_million ?? {}) as Record<string, number>);
  return (j.cpu_s_per_million as number) + ((j.redis_cpu_s_per_million as number | null) ?? 0) + services.reduce((a, v) => a + v, 0);
}

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
      // Max mode produces before the fleet starts: the generator is reported, not in the machine's account.
      expect(j.generator_cpu_s_per_million as number).toBeGreaterThan(0);
      expect(j.machine_cpu_s_per_million as number).toBeCloseTo(accountWithoutGenerator(j), 1);
    }, 180_000);

    test("a sustained run counts the generator, producing on the fleet's cores, in the machine's account", () => {
      const r = run(["--rate", "3000", "--duration", "4s", "--json"]);
      if (r.code !== 0) console.error(r.stderr.split("\n").filter((l) => !l.startsWith("%")).slice(-20).join("\n"));
      expect(r.code).toBe(0);
      const j = r.json!;
      expect(j.mode).toBe("sustained");
      expect(j.audit).toBe("pass");
      const generator = j.generator_cpu_s_per_million as number;
      expect(generator).toBeGreaterThan(0);
      expect(j.machine_cpu_s_per_million as number).toBeCloseTo(accountWithoutGenerator(j) + generator, 1);
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

// The bench against a module-enabled Redis: "auto" must pick BF.* there, and --dedupe bitmap must still force
// BITFIELD on the same server; both exact, each reporting the filter it used and the server's CPU.
const bloomUrl = process.env.REDIS_BLOOM_URL;
const BLOOM: Requirement = { available: bloomUrl !== undefined, missing: "REDIS_BLOOM_URL is not set (a module-enabled Redis: see ../shared/redis/)" };
describeWith("postgres", "bun run bench", () => describeIf(BLOOM, "on RedisBloom", () => {
  for (const [mode, filter] of [["auto", "bloom"], ["bitmap", "bitmap"]] as const) {
    test(`--dedupe ${mode} uses the ${filter} filter and passes the audit`, () => {
      const p = Bun.spawnSync([process.execPath, BENCH, "--events", "3000", "--dedupe", mode, "--json"], {
        stdout: "pipe",
        stderr: "pipe",
        timeout: 180_000,
        env: { ...process.env, REDIS_URL: bloomUrl },
      });
      const j = JSON.parse(p.stdout.toString().trim().split("\n").at(-1) ?? "{}");
      expect(p.exitCode).toBe(0);
      expect(j).toMatchObject({ audit: "pass", lost: 0, duplicated: 0, dedupe_filter: filter });
      expect(typeof j.redis_cpu_s_per_million).toBe("number");
    }, 180_000);
  }
}));

describe("bench tools", () => {
  const tool = (name: string) => resolve(import.meta.dir, `../../dev/bench/${name}`);

  test("compare.ts prints each recorded metric against the matching baseline, with the direction that is better", () => {
    const result = JSON.stringify({ mode: "max", kafka: "mock", dedupe_filter: "bitmap", cpu_s_per_million: 10, events_per_min: 1, load_avg: [1, 2] });
    const p = Bun.spawnSync([process.execPath, tool("compare.ts"), "-"], { stdin: new TextEncoder().encode(`progress line\n${result}\n`), stdout: "pipe", stderr: "pipe" });
    const out = p.stdout.toString();
    expect(p.exitCode).toBe(0);
    expect(out).toMatch(/vs e2e-max-mock .*LOADED machine/);
    expect(out).toMatch(/cpu_s_per_million\s+[\d.]+\s+->\s+10\s+-[\d.]+%\s+better/);
    expect(out).toMatch(/events_per_min\s+[\d.]+\s+->\s+1\s+-[\d.]+%\s+WORSE/);
    const none = Bun.spawnSync([process.execPath, tool("compare.ts"), "-"], { stdin: new TextEncoder().encode(`{"mode":"nothing"}\n`), stdout: "pipe" });
    expect(none.exitCode).toBe(1);
    expect(none.stdout.toString()).toContain("no baseline matches this result");
  });

  test("compare.ts scales a run on a slower host back to the baseline's host by the machine probe", () => {
    const baseline: Baseline = {
      command: "x",
      match: {},
      metrics: { cpu_s_per_million: { value: 10, better: "lower" }, events_per_min: { value: 3_000_000, better: "higher" } },
      recorded: "2026-12-07",
      machine: "test",
      loaded: false,
      machine_probe_us: 2,
    };
    // Twice as slow a host: twice the cost and half the rate are the same pipeline.
    const lines = compareWith("b", { ...baseline, metrics: { ...baseline.metrics, max_rss_mb: { value: 400, better: "lower" } } }, {
      machine_probe_us: 4,
      cpu_s_per_million: 20,
      events_per_min: 1_500_000,
      max_rss_mb: 400,
    }).join("\n");
    expect(lines).toContain("2.00x the baseline's");
    expect(lines).toMatch(/cpu_s_per_million\s+10\s+->\s+20 \(adjusted 10\)\s+\+0\.0%\s+same/);
    expect(lines).toMatch(/events_per_min\s+3000000\s+->\s+1500000 \(adjusted 3000000\)\s+\+0\.0%\s+same/);
    // Memory does not follow the host's speed: compared as measured.
    expect(lines).toMatch(/max_rss_mb\s+400\s+->\s+400\s+\+0\.0%\s+same/);
    // Without a probe on either side the raw values are compared, and the output says so.
    const raw = compareWith("b", { ...baseline, machine_probe_us: undefined }, { cpu_s_per_million: 20 }).join("\n");
    expect(raw).toContain("not comparable");
    expect(raw).toMatch(/cpu_s_per_million\s+10\s+->\s+20\s+\+100\.0%\s+WORSE/);
  });

  test("service-cpu.ts finds the local process listening on a port (how e2e finds a local broker's JVM)", () => {
    const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      expect(localListenerPid(server.port)).toBe(process.pid);
    } finally {
      server.stop(true);
    }
    expect(localListenerPid(server.port)).toBeNull();
  });

  test("sustained-max.ts refuses e2e flags it sets itself, naming the flag", () => {
    const p = Bun.spawnSync([process.execPath, tool("sustained-max.ts"), "--rate", "5"], { stdout: "pipe", stderr: "pipe" });
    expect(p.exitCode).toBe(2);
    expect(p.stderr.toString()).toContain("--rate is set by sustained-max itself");
  });

  test("fleet-timeline reads assignments, revocations and the stop count per worker from a fleet log", async () => {
    const { parseFleetLog } = await import("../../dev/bench/fleet-timeline.ts");
    const log = [
      `{"level":30,"time":"2026-01-01T00:00:00.000Z","pid":11,"worker":0,"msg":"engine started"}`,
      `{"level":30,"time":"2026-01-01T00:00:01.000Z","pid":11,"worker":0,"partitions":[{"topic":"t","partition":0},{"topic":"t","partition":1}],"msg":"partitions assigned"}`,
      `{"level":30,"time":"2026-01-01T00:00:02.500Z","pid":12,"worker":1,"msg":"engine started"}`,
      `{"level":30,"time":"2026-01-01T00:00:03.000Z","pid":11,"worker":0,"partitions":[{"topic":"t","partition":1}],"msg":"partitions revoked"}`,
      `{"level":30,"time":"2026-01-01T00:00:03.100Z","pid":12,"worker":1,"partitions":[{"topic":"t","partition":1}],"msg":"partitions assigned"}`,
      `%7|librdkafka raw line`,
      `{"level":30,"time":"2026-01-01T00:00:09.000Z","pid":11,"worker":0,"progress":{"events":70},"msg":"engine stopped"}`,
      `{"level":30,"time":"2026-01-01T00:00:09.500Z","pid":12,"worker":1,"partitions":[{"topic":"t","partition":1}],"msg":"partitions revoked"}`,
      `{"level":30,"time":"2026-01-01T00:00:09.0`,
    ].join("\n");
    const ws = parseFleetLog(log);
    expect(ws.map((w) => [w.worker, w.pid, w.startedAt, w.partitions, w.events])).toEqual([
      [0, 11, 0, [0], 70],
      [1, 12, 2500, [1], null],
    ]);
    // Worker 1's final revocation of everything is the shutdown: it still "ends with" partition 1.
    expect(ws.map((w) => w.firstPartitionsAt)).toEqual([Date.parse("2026-01-01T00:00:01.000Z"), Date.parse("2026-01-01T00:00:03.100Z")]);
    expect(ws[0].changes).toEqual([
      { atMs: 1000, kind: "+", partitions: [0, 1] },
      { atMs: 3000, kind: "-", partitions: [1] },
    ]);
  });
});
