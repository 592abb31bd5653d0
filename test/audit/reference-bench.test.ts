/**
 * dev/bench/reference.ts (the Node.js reference pipeline of issue #14) end to end on a small run against the
 * mock cluster, local Redis and PostgreSQL: the same audit as our fleet's bench, with its fields asserted.
 *
 * The reference pipeline is a separate Node.js install (bash dev/bench/reference/setup.sh builds
 * @confluentinc/kafka-javascript from source, minutes on 2 cores) that CI does not do: without it the suite is
 * skipped with the reason printed, in CI too. The usage test needs no install and always runs.
 */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { describeWith } from "../../dev/support/services.ts";
import { runJsonScript } from "../../dev/support/cli-process.ts";
import { REFERENCE_STAMP } from "../../dev/bench/reference.ts";

const BENCH = resolve(import.meta.dir, "../../dev/bench/reference.ts");

// The mock cluster: a KAFKA_BROKERS of the caller's would send the small run to a real broker instead.
const run = (args: string[]) => runJsonScript(BENCH, args, { timeoutMs: 240_000, env: { ...process.env, KAFKA_BROKERS: "" } });

const installed = existsSync(REFERENCE_STAMP) && Bun.which("node") !== null;
const suite = "reference pipeline bench (Node.js)";
if (!installed) console.warn(`[skip] ${suite}: not installed (bash dev/bench/reference/setup.sh; CI does not install it)`);
(installed ? describe : describe.skip)(suite, () =>
  describeWith("postgres", `${suite} (postgres)`, () =>
    describeWith("redis", `${suite} (redis)`, () => {
      test("two processes in one group pass the same exact audit as the fleet and report their CPU", () => {
        const r = run(["--events", "4000", "--replicas", "2", "--batch", "500", "--json"]);
        if (r.code !== 0) console.error(r.stderr.split("\n").slice(-25).join("\n"));
        expect(r.code).toBe(0);
        const j = r.json!;
        expect(j).toMatchObject({ events: 4000, audit: "pass", lost: 0, duplicated: 0, kafka: "mock", replicas: 2, batch: 500 });
        expect(j.duplicates_dropped as number).toBeGreaterThan(0);
        expect(j.invalid as number).toBeGreaterThan(0);
        expect(j.events_per_min as number).toBeGreaterThan(0);
        expect(j.cpu_s_per_million as number).toBeGreaterThan(0);
        expect(String(j.node)).toMatch(/^v\d+\./);
      }, 240_000);
    }),
  ),
);

describe("reference bench usage", () => {
  test("it has no sustained mode: --rate exits 2 naming --events", () => {
    const r = run(["--rate", "1000"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("use --events");
  });
});
