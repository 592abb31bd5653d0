/**
 * The generated reference (docs/reference/*.md) matches the code, and the tables it is generated from cover
 * what the code really uses: every environment variable read anywhere, every metric name registered.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Glob } from "bun";
import { referencePages } from "../../dev/docs/pages.ts";
import { stageSpecs } from "../../dev/docs/topology-page.ts";
import { ENVIRONMENT_VARIABLES } from "../../shared/cli/environment.ts";
import { requiredKeys } from "../../shared/topology/schema/json-schema.ts";
import { Metrics } from "../../shared/telemetry/metrics.ts";
import { METRICS } from "../../shared/telemetry/names.ts";

const REPO = resolve(import.meta.dir, "../..");
const pages = referencePages();

/**
 * Text of every file matching `pattern` under the repository's code folders; not installed packages (the
 * reference pipeline, dev/bench/reference, has its own node_modules).
 */
const sources = (pattern: string, roots = ["shared", "workers", "dev", "test"]) =>
  roots.flatMap((root) =>
    [...new Glob(pattern).scanSync({ cwd: join(REPO, root) })]
      .filter((f) => !f.includes("node_modules/"))
      .map((f) => ({ file: `${root}/${f}`, text: readFileSync(join(REPO, root, f), "utf8") })),
  );

describe("docs/reference is generated from the code", () => {
  for (const [path, expected] of pages) {
    test(`${path} is up to date`, () => {
      let committed: string | null = null;
      try {
        committed = readFileSync(join(REPO, path), "utf8");
      } catch {
        // reported below as out of date
      }
      if (committed !== expected) throw new Error(`${path} is out of date: run bun run docs:reference`);
    });
  }

  test("generating twice gives the same pages", () => {
    expect(referencePages()).toEqual(pages);
  });

  test("the topology page has a section per registered stage, with every key of its schema", () => {
    const text = pages.get("docs/reference/topology.md")!;
    const kinds = stageSpecs().map((s) => s.kind);
    expect(kinds.length).toBeGreaterThan(0);
    for (const kind of kinds) {
      expect(text).toContain(`### ${kind}\n`);
      expect(text).toContain(`| \`stages[].${kind}\` |`);
    }
  });
});

describe("the stage specs give the reference what it shows", () => {
  test("each stage's example (shown as its smallest valid item) has every required key", () => {
    const missing = stageSpecs().flatMap((spec) =>
      requiredKeys(spec.schema)
        .filter((k) => !(k in spec.example))
        .map((k) => `${spec.kind} lacks \`${k}\` (the example in its spec.ts)`),
    );
    expect(missing).toEqual([]);
  });
});

describe("the reference tables cover the code", () => {
  // Standard variables whose meaning is the OS's, not ours.
  const NOT_OURS = new Set(["HOME", "PATH", "TMPDIR", "USER"]);

  test("every environment variable the code reads is in shared/cli/environment.ts", () => {
    const listed = new Set(ENVIRONMENT_VARIABLES.map((v) => v.name));
    const missing = new Set<string>();
    for (const { file, text } of sources("**/*.ts")) {
      for (const m of text.matchAll(/\benv(?:\.([A-Z][A-Z0-9_]+)|\[["']([A-Z][A-Z0-9_]+)["']\])/g)) {
        const name = m[1] ?? m[2];
        if (!listed.has(name) && !NOT_OURS.has(name)) missing.add(`${name} (${file})`);
      }
    }
    if (missing.size) {
      throw new Error(`read but not documented: ${[...missing].join(", ")}; add each to ENVIRONMENT_VARIABLES in shared/cli/environment.ts, then run bun run docs:reference`);
    }
  });

  test("every listed environment variable is read somewhere (no stale entries)", () => {
    const code = [...sources("**/*.ts"), ...sources("**/*.sh"), { file: ".ci/run", text: readFileSync(join(REPO, ".ci/run"), "utf8") }]
      .map((s) => s.text)
      .join("\n");
    const unused = ENVIRONMENT_VARIABLES.map((v) => v.name).filter((n) => !new RegExp(`\\b${n}\\b`).test(code));
    expect(unused).toEqual([]);
  });

  test("the fleet registers metrics only by their catalog names (M.x), never by a literal name", () => {
    const strays: string[] = [];
    for (const { file, text } of sources("**/*.ts", ["shared", "workers"])) {
      for (const m of text.matchAll(/\.(?:counter|gauge|histogram)\(\s*["'`]([^"'`]+)/g)) strays.push(`${m[1]} (${file})`);
    }
    if (strays.length) throw new Error(`metrics registered by a literal name: ${strays.join(", ")}; add each to METRICS in shared/telemetry/names.ts and register it as M.<key>`);
  });

  test("a metric registered with another type than its catalog entry is refused", () => {
    const m = new Metrics();
    expect(() => m.gauge(METRICS.eventsIn.name)).toThrow(/is a counter in shared\/telemetry\/names.ts, registered as gauge/);
    expect(() => m.counter("topofleet_test_without_help")).toThrow(/has no help text/);
    m.counter(METRICS.eventsIn.name).inc({ stage: "x" });
    expect(m.renderPrometheus()).toContain(`# HELP ${METRICS.eventsIn.name} ${METRICS.eventsIn.help}`);
  });
});
