/** `${VAR}` / `${VAR:-default}` / `$${` interpolation on parsed scalars, with exact error positions. */
import { describe, expect, test } from "bun:test";
import { parseTopology } from "../../shared/topology/index.ts";
import { resolve } from "node:path";
import { configError, GOOD } from "./support.ts";

const FILE = "/tmp/topofleet-interp/topology.yaml";

/** A valid topology whose brokers, group and port come from the given scalars. */
function topology(brokers: string, extra = ""): string {
  return [
    "name: interp",
    "source:",
    "  kafka:",
    `    brokers: ${brokers}`,
    "    topics: [events]",
    "stages:",
    "  - enrich:",
    "  - persist:",
    "      url: embedded",
    extra,
  ].join("\n");
}

describe("environment interpolation", () => {
  test("a set variable replaces ${VAR}", () => {
    const t = parseTopology(topology("${BROKERS}"), FILE, { BROKERS: "k1:9092,k2:9092" });
    expect(t.source.kind === "kafka" && t.source.brokers).toBe("k1:9092,k2:9092");
  });

  test("${VAR:-default} uses the default when the variable is unset or empty, the value when set", () => {
    const unset = parseTopology(topology("${BROKERS:-localhost:9092}"), FILE, {});
    const empty = parseTopology(topology("${BROKERS:-localhost:9092}"), FILE, { BROKERS: "" });
    const set = parseTopology(topology("${BROKERS:-localhost:9092}"), FILE, { BROKERS: "prod:9092" });
    expect([unset, empty, set].map((t) => (t.source.kind === "kafka" ? t.source.brokers : ""))).toEqual(["localhost:9092", "localhost:9092", "prod:9092"]);
  });

  test("variables interpolate inside a longer string and several per scalar", () => {
    const t = parseTopology(topology("${H1}:${P1:-9092},kafka-2:${P2}"), FILE, { H1: "kafka-1", P2: "9093" });
    expect(t.source.kind === "kafka" && t.source.brokers).toBe("kafka-1:9092,kafka-2:9093");
  });

  test("a missing variable without default is CONFIG_ENV_MISSING naming file, line, column, key path and variable", async () => {
    const err = await configError(() => parseTopology(topology("kafka:${MISSING_PORT}"), FILE, {}));
    expect(err.code).toBe("CONFIG_ENV_MISSING");
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatchObject({ file: FILE, line: 4, column: 20, path: "source.kafka.brokers" });
    expect(err.issues[0]!.message).toContain("MISSING_PORT");
    expect(err.message).toContain(`${FILE}:4:20: source.kafka.brokers: environment variable MISSING_PORT is not set`);
  });

  test("missing variables in quoted scalars point at the reference too", async () => {
    const err = await configError(() => parseTopology(topology('"${A_MISSING}"', 'log:\n  level: "${LEVEL_MISSING}"'), FILE, {}));
    expect(err.issues.map((i) => [i.line, i.column, i.path])).toEqual([
      [4, 15, "source.kafka.brokers"],
      [11, 11, "log.level"],
    ]);
  });

  test("$${ is a literal ${ and is not interpolated", () => {
    const module = resolve(GOOD, "stages/filter.ts");
    // A replacer function, because `$$` in a replacement string means a single `$`.
    const text = topology("localhost:9092").replace("  - persist:", () =>
      `  - custom:\n      module: ${module}\n      options:\n        template: "$\${USER} is literal, \${WHO} is not"\n  - persist:`,
    );
    const t = parseTopology(text, FILE, { WHO: "alice", USER: "never-used" });
    const stage = t.stages.find((s) => s.kind === "custom");
    expect(stage?.kind === "custom" && stage.options.template).toBe("${USER} is literal, alice is not");
  });

  test("numbers and booleans may come from the environment", () => {
    const t = parseTopology(
      topology("localhost:9092", "http:\n  port: ${PORT:-9464}\nbatch:\n  maxWait: ${WAIT}\n"),
      FILE,
      { WAIT: "2s" },
    );
    expect(t.http.port).toBe(9464);
    expect(t.batch.maxWaitMs).toBe(2000);
    const t2 = parseTopology(topology("localhost:9092", "http:\n  port: ${PORT}\n"), FILE, { PORT: "8080" });
    expect(t2.http.port).toBe(8080);
  });

  test("an environment value cannot inject YAML structure", () => {
    const injected = "evil\nstages: []\nname: other";
    const t = parseTopology(topology("${BROKERS}"), FILE, { BROKERS: injected });
    expect(t.name).toBe("interp");
    expect(t.stages).toHaveLength(2);
    expect(t.source.kind === "kafka" && t.source.brokers).toBe(injected);
  });

  test("a malformed or unterminated reference is an error at its position", async () => {
    const bad = await configError(() => parseTopology(topology("x:${1BAD}"), FILE, {}));
    expect(bad.code).toBe("CONFIG_INVALID");
    expect(bad.issues[0]).toMatchObject({ line: 4, column: 16, path: "source.kafka.brokers" });
    expect(bad.issues[0]!.message).toContain("invalid variable reference");
    const open = await configError(() => parseTopology(topology("x:${OPEN"), FILE, {}));
    expect(open.issues[0]!.message).toContain("unterminated");
  });

  test("a non-numeric environment value for a number is an error that does not echo the value", async () => {
    const err = await configError(() => parseTopology(topology("localhost:9092", "http:\n  port: ${PORT}\n"), FILE, { PORT: "hunter2" }));
    expect(err.issues[0]).toMatchObject({ path: "http.port", line: 11, column: 9 });
    expect(err.message).not.toContain("hunter2");
  });
});
