/**
 * librdkafka's own log lines never reach stdout or stderr raw (`%3|1700000000.123|FAIL|rdkafka#producer-1| …`):
 * every command routes them through its pino logger as JSON, with the facility, client and broker in fields.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { runCliToEnd } from "../../dev/support/cli-process.ts";
import { writeTopology } from "../../dev/support/topology.ts";
import { freePort } from "../../dev/support/net.ts";
import { tempDir } from "../../dev/support/temp-dir.ts";

const tmp = tempDir("rdlogs");
afterAll(() => tmp.cleanup());

/** A line as librdkafka's default logger prints it: `%<level>|<secs.ms>|<FAC>|<client>| <text>`. */
const RAW_LINE = /^%\d\|\d+\.\d+\|/m;

/** Every non-empty line of `text` parsed as JSON (throws, naming the line, when one is not). */
function jsonLines(text: string): Array<Record<string, any>> {
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        throw new Error(`not a JSON log line: ${l}`);
      }
    });
}

describe("librdkafka log lines go through pino", () => {
  test("--explain against an unreachable broker: FAIL is a JSON error line naming the broker, repeats are counted", async () => {
    const port = await freePort();
    const file = writeTopology(
      tmp.dir,
      `name: unreachable
source:
  kafka:
    brokers: "127.0.0.1:${port}"
    topics: [events]
    group: g
stages:
  - enrich: {}
  - persist:
      url: postgres://postgres@127.0.0.1:5432/test
`,
      "unreachable.yaml",
    );
    const r = await runCliToEnd([file, "--explain"], { TOPOFLEET_LOG_LEVEL: "info" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(RAW_LINE);
    expect(r.stderr).not.toMatch(RAW_LINE);
    expect(r.stdout).toContain("What bounds throughput");
    const logs = jsonLines(r.stderr);
    const fail = logs.find((l) => l.kafka?.fac === "FAIL");
    expect(fail, r.stderr).toBeDefined();
    expect(fail!.level).toBe(50);
    expect(fail!.component).toBe("cli");
    expect(fail!.kafka.broker).toBe(`127.0.0.1:${port}/bootstrap`);
    expect(fail!.kafka.client).toMatch(/^rdkafka#producer-\d+$/);
    expect(fail!.msg).toContain("Connection refused");
    // librdkafka retries the connection every few hundred ms for 5 s: the rest are counted, not logged.
    const failLines = logs.filter((l) => l.kafka?.fac === "FAIL");
    expect(failLines.length).toBeLessThanOrEqual(2);
    const heldBack = logs.filter((l) => l.kafka && l.suppressed > 0);
    expect(heldBack.length, r.stderr).toBeGreaterThan(0);
  }, 60_000);

  test("a short demo run: the worker's librdkafka warning is in its JSON log, nothing raw anywhere", async () => {
    // linger.ms is a producer property: the worker's consumer logs a CONFWARN (level 4) about it.
    const file = writeTopology(
      tmp.dir,
      `name: rdlogs-demo
source:
  mock:
    partitions: 2
    topics: [events]
    properties:
      linger.ms: "5"
    generator:
      rate: 5000
stages:
  - enrich: {}
  - dedupe:
      backend: memory
  - persist:
      url: embedded
http:
  port: 0
`,
      "demo.yaml",
    );
    const r = await runCliToEnd([file, "--max-events", "2000", "--json", "--data-dir", `${tmp.dir}/data`], { TOPOFLEET_LOG_LEVEL: "info" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(RAW_LINE);
    expect(r.stderr).not.toMatch(RAW_LINE);
    expect(JSON.parse(r.stdout.trim().split("\n").at(-1)!).lost).toBe(0);
    const logs = jsonLines(r.stderr);
    const warn = logs.find((l) => l.kafka?.fac === "CONFWARN" && l.worker === 0);
    expect(warn, r.stderr).toBeDefined();
    expect(warn!.level).toBe(40);
    expect(warn!.msg).toContain("queue.buffering.max.ms is a producer property"); // linger.ms is its alias
    expect(warn!.kafka.client).toContain("topofleet-rdlogs-demo-0");
  }, 120_000);
});
