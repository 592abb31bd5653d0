/**
 * User modules under a start-up deadline, through the CLI as a user runs it: `--validate` imports every
 * custom stage and enrich module (in a probe thread) and fails with CONFIG_MODULE_LOAD naming the path when
 * one throws, exits, never finishes loading, spins or exports the wrong thing; a running fleet whose worker
 * hits such a module stops with exit 2 instead of restarting it into a crash loop.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { CliProcess, runCliToEnd } from "../../dev/support/cli-process.ts";
import { writeTopology } from "../../dev/support/topology.ts";
import { tempDir } from "../../dev/support/temp-dir.ts";

const tmp = tempDir("cli-modules");
afterAll(() => tmp.cleanup());
const mod = (name: string) => join(import.meta.dir, "fixtures/modules", name);
// Short, so the spinning module's case takes seconds; the default is 30 s.
const env = { TOPOFLEET_MODULE_START_TIMEOUT_MS: "1500", TOPOFLEET_HTTP_PORT: "0" };

const customStage = (module: string) => `name: modules
source:
  mock: { partitions: 1, generator: { rate: 100, events: 50 } }
stages:
  - enrich: { threads: 1 }
  - custom: { name: user-stage, module: ${module} }
`;
const enrichModule = (module: string) => `name: modules
source:
  mock: { partitions: 1, generator: { rate: 100, events: 50 } }
stages:
  - enrich: { threads: 1, module: ${module} }
`;

const BROKEN: Array<[string, RegExp]> = [
  ["throws-at-import.ts", /cannot import the module: module exploded at import/],
  ["exits-at-import.ts", /exited \(code 3\).*process\.exit at import/],
  ["never-loads.ts", /never finishes loading: a top-level await that never settles/],
  ["spins-at-import.ts", /did not finish loading within 1500 ms/],
  ["wrong-export.ts", /exports neither a default function nor enrichEvent|no default export/],
];

describe("--validate imports user modules", () => {
  for (const [file, why] of BROKEN) {
    for (const [kind, yaml] of [["custom stage", customStage], ["enrich module", enrichModule]] as const) {
      test(`${kind} ${file}: exit 2, CONFIG_MODULE_LOAD with the path and why`, async () => {
        const topology = writeTopology(tmp.dir, yaml(mod(file)), `${kind.replace(" ", "-")}-${file}.yaml`);
        const r = await runCliToEnd([topology, "--validate"], env);
        expect(r.code).toBe(2);
        expect(r.stdout).not.toContain("OK ");
        expect(r.stderr).toContain("CONFIG_MODULE_LOAD");
        expect(r.stderr).toContain(mod(file));
        expect(r.stderr).toMatch(kind === "custom stage" ? /custom stage "user-stage"/ : /enrich stage "enrich"/);
        expect(r.stderr).toMatch(why);
      }, 30_000);
    }
  }

  test("working modules validate: OK, exit 0", async () => {
    const topology = writeTopology(
      tmp.dir,
      `${enrichModule(mod("pass-through-enrich.ts"))}  - custom: { name: user-stage, module: ${mod("pass-through-stage.ts")} }\n`,
      "good.yaml",
    );
    const r = await runCliToEnd([topology, "--validate"], env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith("OK ");
  }, 30_000);
});

describe("a running fleet with a broken module", () => {
  for (const [file, kind, yaml] of [
    ["throws-at-import.ts", "custom stage", customStage],
    ["spins-at-import.ts", "enrich module", enrichModule],
    ["never-loads.ts", "custom stage", customStage],
  ] as const) {
    test(`${kind} ${file}: the worker reports it with the path, the fleet exits 2 without restarting it`, async () => {
      const topology = writeTopology(tmp.dir, yaml(mod(file)), `run-${file}.yaml`);
      const run = new CliProcess([topology, "--json", "--max-events", "50", "--data-dir", tmp.dir], env);
      const timer = setTimeout(() => run.proc.kill("SIGKILL"), 60_000);
      const code = await run.exited;
      clearTimeout(timer);
      const log = run.stderr;
      expect(code).toBe(2);
      expect(log).toContain("CONFIG_MODULE_LOAD");
      expect(log).toContain(mod(file));
      expect(log).toContain("configuration error in a worker: not restarting");
      expect(log).not.toContain("restarting after backoff");
      expect(log).not.toContain("RUNTIME_CRASH_LOOP");
    }, 90_000);
  }
});
