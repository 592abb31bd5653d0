/**
 * The demo runs indefinitely at whatever rate the pipeline sustains: `topologies/demo.yaml` with a
 * throttling custom stage in front (the pipeline ~13x slower than the generator's 20,000 events/s), run
 * unbounded for over a minute. The generator must be held back by the pipeline instead of outrunning it
 * (the mock cluster keeps ~11,650 demo events per partition and deletes the oldest on every append): the
 * committed count keeps growing in every 10-second window, no offset is skipped or reset, and Ctrl-C ends
 * with nothing lost. The throttle keeps the test light on CPU.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { CliProcess } from "../../dev/support/cli-process.ts";
import { throttledDemo } from "./fixtures/demo-with-stage.ts";
import { freePort } from "../../dev/support/net.ts";
import { tempDir } from "../../dev/support/temp-dir.ts";
import { waitFor } from "../../dev/support/wait.ts";

const RATE = 1_500;
const RUN_MS = 65_000;
const tmp = tempDir("demo-paced");
afterAll(() => tmp.cleanup());

/** Committed events of each live line (one plain line per second off a TTY). */
const eventsPerLine = (stdout: string): number[] =>
  stdout
    .split("\n")
    .map((l) => /\| events ([\d,]+) \|/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined)
    .map((n) => Number(n.replaceAll(",", "")));

describe("demo paced by the pipeline", () => {
  test(`unbounded for ${RUN_MS / 1000} s with the pipeline throttled below the generator: steady progress, no resets, nothing lost`, async () => {
    const run = new CliProcess([throttledDemo(tmp.dir, RATE), "--data-dir", join(tmp.dir, "data")], { TOPOFLEET_HTTP_PORT: String(await freePort()) });
    let stopped = false;
    try {
      await waitFor(() => eventsPerLine(run.stdout).some((n) => n > 0), { timeoutMs: 60_000, what: "the first committed events" });
      const started = eventsPerLine(run.stdout).length;
      await Bun.sleep(RUN_MS);
      const lines = run.stdout.split("\n").filter((l) => l.includes("events/s"));
      const events = eventsPerLine(run.stdout).slice(started);
      expect(events.length).toBeGreaterThanOrEqual(RUN_MS / 1000 - 5);
      // Every 10 s window commits at least a third of what the throttle lets through: no stall, no reset loop.
      for (let i = 10; i < events.length; i += 10) {
        expect(events[i] - events[i - 10], `window ending at line ${started + i}`).toBeGreaterThan((RATE * 10) / 3);
      }
      expect(lines.some((l) => l.includes("(held back by the pipeline)"))).toBe(true);
      for (const l of lines) {
        expect(l).not.toContain("deleted before read");
        expect(l).not.toContain("reset backward");
      }
      run.proc.kill("SIGINT");
      stopped = true;
      const code = await run.exited;
      expect(code, run.stderr.slice(-2000)).toBe(0);
      expect(run.stdout).toMatch(/lost\s+0\n/);
      expect(run.stdout).not.toContain("deleted before read");
      expect(run.stderr).not.toContain("KAFKA_OFFSETS_DELETED_BEFORE_READ");
      expect(run.stderr).not.toContain("KAFKA_OFFSET_RESET_BACKWARD");
      expect(run.stderr).not.toContain("Offset out of range");
    } finally {
      if (!stopped) run.proc.kill("SIGKILL");
    }
  }, RUN_MS + 120_000);
});
