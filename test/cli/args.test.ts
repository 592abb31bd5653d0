import { describe, expect, test } from "bun:test";
import { ConfigError } from "../../shared/errors/index.ts";
import { parseArgs } from "../../shared/cli/args.ts";

/** Parses and returns the usage error's message (fails the test when parsing succeeds). */
function usageError(argv: string[]): string {
  try {
    parseArgs(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).code).toBe("CONFIG_USAGE");
    return (e as Error).message;
  }
  throw new Error(`expected a usage error for ${argv.join(" ")}`);
}

describe("parseArgs", () => {
  test("a file alone runs the fleet", () => {
    expect(parseArgs(["t.yaml"])).toEqual({ mode: "run", file: "t.yaml", replicas: null, maxEvents: null, json: false, dataDir: null, emit: null });
  });

  test("run flags, in both --flag value and --flag=value forms", () => {
    expect(parseArgs(["t.yaml", "--replicas", "3", "--max-events=20000", "--json", "--data-dir", "/tmp/x"])).toMatchObject({
      mode: "run",
      replicas: 3,
      maxEvents: 20000,
      json: true,
      dataDir: "/tmp/x",
    });
  });

  test("modes", () => {
    expect(parseArgs(["t.yaml", "--validate"]).mode).toBe("validate");
    expect(parseArgs(["--explain", "t.yaml"]).mode).toBe("explain");
    expect(parseArgs(["t.yaml", "--migrate"]).mode).toBe("migrate");
    expect(parseArgs(["t.yaml", "--emit", "k8s", "--out", "o"])).toMatchObject({ mode: "emit", emit: { kind: "k8s", out: "o" } });
    expect(parseArgs(["--help"]).mode).toBe("help");
    expect(parseArgs(["t.yaml", "-h"]).mode).toBe("help");
  });

  test("unknown flag is named", () => {
    expect(usageError(["t.yaml", "--replica", "2"])).toContain("unknown flag --replica");
  });

  test("bad values name the flag", () => {
    expect(usageError(["t.yaml", "--replicas", "0"])).toContain("--replicas expects a positive integer");
    expect(usageError(["t.yaml", "--replicas", "two"])).toContain("--replicas");
    expect(usageError(["t.yaml", "--max-events", "-5"])).toContain("--max-events expects a positive integer");
    expect(usageError(["t.yaml", "--max-events", "1.5"])).toContain("--max-events");
    expect(usageError(["t.yaml", "--emit", "nomad", "--out", "o"])).toContain("--emit expects one of systemd, k8s, compose");
  });

  test("missing values name the flag", () => {
    expect(usageError(["t.yaml", "--replicas"])).toContain("--replicas needs a value");
    expect(usageError(["t.yaml", "--data-dir", "--json"])).toContain("--data-dir needs a value");
    expect(usageError(["t.yaml", "--emit", "k8s"])).toContain("--emit needs --out");
  });

  test("inconsistent combinations", () => {
    expect(usageError(["t.yaml", "--validate", "--explain"])).toContain("--validate and --explain cannot be combined");
    expect(usageError(["t.yaml", "--validate", "--max-events", "5"])).toContain("--max-events only applies when running");
    expect(usageError(["t.yaml", "--out", "o"])).toContain("--out only applies with --emit");
    expect(usageError(["t.yaml", "--json", "--json"])).toContain("--json given more than once");
    expect(usageError(["t.yaml", "--json=yes"])).toContain("--json takes no value");
  });

  test("file count", () => {
    expect(usageError([])).toContain("missing the topology file");
    expect(usageError(["a.yaml", "b.yaml"])).toContain("expected one topology file");
  });
});
