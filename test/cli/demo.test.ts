/**
 * The README's first command, `bun run topology topologies/demo.yaml`, end to end: no external services
 * (mock cluster + generator, memory dedupe, embedded PostgreSQL), each run in its own temp data dir and
 * on a free HTTP port.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { SAME_STOP_REQUEST_MS } from "../../shared/cli/run.ts";
import { demoWithStage } from "./fixtures/demo-with-stage.ts";
import { CliProcess, REPO, runCliToEnd } from "../../dev/support/cli-process.ts";
import { freePort } from "../../dev/support/net.ts";
import { tempDir } from "../../dev/support/temp-dir.ts";
import { waitFor } from "../../dev/support/wait.ts";

const DEMO = join(REPO, "topologies/demo.yaml");
const tmp = tempDir("demo");
afterAll(() => tmp.cleanup());

let runs = 0;
const dataDir = () => join(tmp.dir, `data-${runs++}`);

/** Worker pids from the supervisor's "worker spawned" log lines (needs log level info). */
const workerPids = (stderr: string): number[] =>
  stderr
    .split("\n")
    .filter((l) => l.includes('"worker spawned"'))
    .map((l) => JSON.parse(l).pid as number);

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("demo topology", () => {
  test("--max-events 20000 --json: exits 0, every event accounted for, nothing lost", async () => {
    const r = await runCliToEnd([DEMO, "--max-events", "20000", "--json", "--data-dir", dataDir()], { TOPOFLEET_HTTP_PORT: String(await freePort()) });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    const s = JSON.parse(lines.at(-1)!);
    expect(Object.keys(s).sort()).toEqual(["deleted_before_read", "duplicates", "elapsed_ms", "events", "events_per_min", "filtered", "invalid", "lost", "persisted", "reread", "reset_backward"]);
    expect(s.deleted_before_read).toBe(0);
    expect(s.filtered).toBe(0);
    expect(s.events).toBeGreaterThanOrEqual(20000);
    expect(s.persisted + s.duplicates + s.invalid).toBe(s.events);
    expect(s.lost).toBe(0);
    // The demo generator injects ~2% duplicates and ~1% invalid events: both outcomes must show up.
    expect(s.duplicates).toBeGreaterThan(0);
    expect(s.invalid).toBeGreaterThan(0);
    expect(s.elapsed_ms).toBeGreaterThan(0);
  }, 120_000);

  test("live line every second, HTTP endpoints while running, summary and exit 0 on Ctrl-C", async () => {
    const port = await freePort();
    const run = new CliProcess([DEMO, "--data-dir", dataDir()], { TOPOFLEET_HTTP_PORT: String(port) });
    try {
      await waitFor(() => run.stdout.split("\n").filter((l) => l.includes("events/s")).length >= 2, { timeoutMs: 60_000, what: "two live lines" });
      // Off a TTY each update is a plain line (no carriage returns).
      expect(run.stdout).not.toContain("\r");
      expect(run.stdout).toMatch(/[\d,]+ events\/s \| events [\d,]+ \| persisted [\d,]+ \| duplicates [\d,]+ \| invalid [\d,]+ \| lag /);

      const base = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, { timeoutMs: 60_000, what: "readiness" });
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const metrics = await waitFor(async () => {
        const text = await (await fetch(`${base}/metrics`)).text();
        return text.includes('outcome="persisted"') ? text : null;
      }, { what: "persisted events in /metrics" });
      for (const name of ["topofleet_events_in_total{stage=\"enrich\"}", "topofleet_events_out_total{stage=\"persist\",outcome=\"persisted\"}", "topofleet_workers 1", "topofleet_worker_restarts_total"]) {
        expect(metrics).toContain(name);
      }
      expect(metrics).not.toContain("postgres://");
    } finally {
      run.proc.kill("SIGINT");
    }
    const code = await run.exited;
    expect(code, run.stderr).toBe(0);
    expect(run.stdout).toContain("topofleet demo: stopped (signal SIGINT)");
    expect(run.stdout).toMatch(/lost\s+0\n/);
  }, 120_000);

  test("a second Ctrl-C kills the workers and exits 130 at once", async () => {
    // A stage that takes 5 s to close, so the drain the first Ctrl-C starts outlasts the second.
    const run = new CliProcess([demoWithStage(tmp.dir, "slow-close.ts", { closeMs: 5_000 }), "--data-dir", dataDir()], { TOPOFLEET_HTTP_PORT: String(await freePort()), TOPOFLEET_LOG_LEVEL: "info" });
    await waitFor(() => run.stdout.includes("events/s"), { timeoutMs: 60_000, what: "a live line" });
    const pids = workerPids(run.stderr);
    expect(pids.length).toBe(1);
    run.proc.kill("SIGINT");
    await Bun.sleep(SAME_STOP_REQUEST_MS + 50);
    run.proc.kill("SIGINT");
    expect(await run.exited).toBe(130);
    expect(run.stdout).toContain("stopped (forced)");
    await waitFor(() => pids.every((p) => !alive(p)), { timeoutMs: 5_000, what: "the worker to be gone" });
  }, 120_000);

  test("the same Ctrl-C arriving twice at once (a wrapper forwards it) is one request: the fleet drains, exit 0", async () => {
    const run = new CliProcess([DEMO, "--data-dir", dataDir()], { TOPOFLEET_HTTP_PORT: String(await freePort()) });
    await waitFor(() => run.stdout.includes("events/s"), { timeoutMs: 60_000, what: "a live line" });
    run.proc.kill("SIGINT");
    // Two signals sent back to back merge into one pending signal; this copy arrives after the first was handled,
    // as a forwarded one can on a busy machine.
    const copyAfterMs = 25;
    expect(copyAfterMs).toBeLessThan(SAME_STOP_REQUEST_MS);
    await Bun.sleep(copyAfterMs);
    run.proc.kill("SIGINT");
    expect(await run.exited, run.stderr).toBe(0);
    expect(run.stdout).toContain("topofleet demo: stopped (signal SIGINT)");
    expect(run.stdout).toMatch(/lost\s+0\n/);
  }, 120_000);

  test("the README's command under a terminal's Ctrl-C (SIGINT to the whole process group) drains, exit 0", async () => {
    // `bun run topology …` in its own process group, as a shell's foreground job: the terminal signals every
    // process in it (bun run, the supervisor, the worker) and bun run forwards its copy to the supervisor.
    const run = new CliProcess([DEMO, "--data-dir", dataDir()], { TOPOFLEET_HTTP_PORT: String(await freePort()) }, null, { readmeCommand: true });
    try {
      await waitFor(() => run.stdout.includes("events/s"), { timeoutMs: 60_000, what: "a live line" });
      run.signalGroup("SIGINT");
      expect(await run.exited, run.stderr).toBe(0);
    } finally {
      run.signalGroup("SIGKILL");
    }
    expect(run.stdout).toContain("topofleet demo: stopped (signal SIGINT)");
    expect(run.stdout).toMatch(/lost\s+0\n/);
    expect(run.stderr).not.toContain("second signal");
  }, 120_000);

  test("--migrate creates the embedded table and exits 0", async () => {
    const r = await runCliToEnd([DEMO, "--migrate", "--data-dir", dataDir()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("migrated public.events (stage persist)");
  }, 120_000);
});
