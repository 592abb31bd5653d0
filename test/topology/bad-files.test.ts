/**
 * Every file under fixtures/bad/ must fail with an issue that names the key path, line and column, both in
 * `issues` and in the formatted message (`file:line:col: path: message`, the format editors link).
 */
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { resolve } from "node:path";
import { formatIssue, type ConfigErrorCode } from "../../shared/errors/index.ts";
import { loadTopology } from "../../shared/topology/index.ts";
import { BAD, configError } from "./support.ts";

interface Expected {
  code?: ConfigErrorCode;
  path: string;
  line: number;
  column: number;
  message: RegExp;
}

const CASES: Record<string, Expected> = {
  "unknown-top-level-key.yaml": { path: "batches", line: 12, column: 1, message: /unknown key `batches`; did you mean `batch`\?/ },
  "unknown-nested-key.yaml": { path: "batch.maxWiat", line: 14, column: 3, message: /unknown key `maxWiat`; did you mean `maxWait`\?/ },
  "wrong-type.yaml": { path: "batch.maxEvents", line: 13, column: 14, message: /expected an integer, got "lots"/ },
  "negative-number.yaml": { path: "concurrency.inFlightBatches", line: 13, column: 20, message: /must be >= 1 .*got -2/ },
  "ratio-above-one.yaml": { path: "source.mock.generator.duplicateRatio", line: 7, column: 23, message: /must be >= 0 and <= 1, got 1.5/ },
  "bad-duration.yaml": { path: "batch.maxWait", line: 13, column: 12, message: /invalid duration "5 minutes"/ },
  "bad-size.yaml": { path: "batch.maxBytes", line: 13, column: 13, message: /invalid size "8 megs"/ },
  "replicas-max-below-min.yaml": { path: "concurrency.replicas.max", line: 15, column: 10, message: /max \(2\) must be >= min \(4\)/ },
  "two-sources.yaml": { path: "source.mock", line: 6, column: 3, message: /exactly one of `kafka:`.*`kafka` is already given/ },
  "no-source.yaml": { path: "source", line: 2, column: 9, message: /exactly one of `kafka:`.*found none/ },
  "unknown-stage-kind.yaml": { path: "stages[0].enrch", line: 7, column: 5, message: /unknown stage kind `enrch`; did you mean `enrich`\?/ },
  "duplicate-persist.yaml": { path: "stages[3].persist", line: 12, column: 5, message: /at most one persist stage \(the first is stages\[2\]\)/ },
  "dedupe-before-enrich.yaml": { path: "stages[0].dedupe", line: 7, column: 5, message: /put an `enrich` stage before it/ },
  "persist-without-enrich.yaml": { path: "stages[0].persist", line: 7, column: 5, message: /put an `enrich` stage before it/ },
  "dedupe-verify-without-persist.yaml": { path: "stages[1].dedupe.onMaybeSeen", line: 10, column: 20, message: /add a `persist` stage after dedupe/ },
  "dlq-equals-source.yaml": { path: "deadLetter.topic", line: 13, column: 10, message: /dead-letter topic `events` is also a source topic/ },
  "dlq-matches-regex.yaml": { path: "deadLetter.topic", line: 13, column: 10, message: /matches the source subscription `\^orders\.\*`/ },
  "limit-bad-policy.yaml": { path: "stages[1].limit.onLimit", line: 10, column: 16, message: /must be one of delay, dead-letter, pass, got "throttle"/ },
  "limit-before-enrich.yaml": { path: "stages[0].limit", line: 7, column: 5, message: /put an `enrich` stage before it/ },
  "limit-after-persist.yaml": { path: "stages[2].limit", line: 10, column: 5, message: /limit must come before persist/ },
  "limit-tenant-zero-rate.yaml": { path: "stages[1].limit.tenants.acme.rate", line: 10, column: 23, message: /must be >= 1, got 0/ },
  "tracing-bad-sampling.yaml": { path: "tracing.sampling", line: 12, column: 13, message: /must be >= 0 and <= 1, got 1.5/ },
  "tracing-bad-endpoint.yaml": { path: "tracing.endpoint", line: 11, column: 13, message: /must be an http:\/\/ or https:\/\/ URL/ },
  "bad-log-level.yaml": { path: "log.level", line: 13, column: 10, message: /must be one of trace, debug, info, warn, error, fatal, got "verbose"/ },
  "port-out-of-range.yaml": { path: "http.port", line: 13, column: 9, message: /must be >= 0 and <= 65535, got 70000/ },
  "missing-env.yaml": {
    code: "CONFIG_ENV_MISSING",
    path: "source.kafka.brokers",
    line: 4,
    column: 27, // the `${` itself, not the start of the scalar
    message: /environment variable TF_TEST_UNSET_BROKER is not set/,
  },
  "yaml-syntax.yaml": { code: "CONFIG_YAML_SYNTAX", path: "stages[0].enrich", line: 8, column: 3, message: /YAML syntax: Flow map/ },
  "generator-on-kafka.yaml": { path: "source.kafka.generator", line: 6, column: 5, message: /generator only feeds the in-process mock cluster/ },
  "false-positive-rate-zero.yaml": { path: "stages[1].dedupe.falsePositiveRate", line: 10, column: 26, message: /must be > 0 and < 1, got 0/ },
  "bad-regex-topic.yaml": { path: "source.kafka.topics[0]", line: 5, column: 14, message: /invalid regex subscription/ },
  "lag-per-replica-zero.yaml": { path: "concurrency.replicas.lagPerReplica", line: 13, column: 45, message: /must be > 0 when max > min/ },
  "missing-name.yaml": { path: "name", line: 1, column: 1, message: /missing required key `name`/ },
  "bad-name.yaml": { path: "name", line: 1, column: 7, message: /lowercase letters, digits and `-`.*got "My_Pipeline"/ },
  "missing-lookup-file.yaml": { path: "stages[0].enrich.lookups[0].file.path", line: 9, column: 24, message: /file not found: .*nowhere\/tenants\.json/ },
  "lookup-into-core-attribute.yaml": { path: "stages[0].enrich.lookups[0].file.into", line: 9, column: 90, message: /`type` is a CloudEvents context attribute/ },
  "stage-two-keys.yaml": { path: "stages[0]", line: 7, column: 5, message: /single-key mapping.*found 2 keys/ },
  "alias-bomb.yaml": { code: "CONFIG_LIMIT", path: "stages[1].custom.options.f[0][3][3][7][1][1]", line: 15, column: 16, message: /expands to more than 100000 values/ },
  "string-for-number.yaml": { path: "concurrency.replicas", line: 13, column: 13, message: /expected an integer, got "3" \(remove the quotes\)/ },
  "retry-bad-jitter.yaml": { path: "retry.jitter", line: 12, column: 11, message: /must be one of none, equal, full, decorrelated, got "random"/ },
  "retry-max-below-initial.yaml": { path: "retry.max", line: 12, column: 8, message: /max \(500 ms\) must be >= initial \(2000 ms\)/ },
  "retry-bad-duration.yaml": { path: "retry.commit.rebalanceRetry", line: 12, column: 21, message: /invalid duration "soon"/ },
};

describe("bad topology files", () => {
  test("every fixture under fixtures/bad has an expectation (and there are at least 15)", () => {
    const files = readdirSync(BAD).filter((f) => f.endsWith(".yaml") && f !== "many-errors.yaml");
    expect(files.sort()).toEqual(Object.keys(CASES).sort());
    expect(files.length).toBeGreaterThanOrEqual(15);
  });

  for (const [name, want] of Object.entries(CASES)) {
    test(`${name}: ${want.path} at ${want.line}:${want.column}`, async () => {
      const file = resolve(BAD, name);
      const err = await configError(loadTopology(file, { env: {} }));
      expect(err.code).toBe(want.code ?? "CONFIG_INVALID");
      expect(err.retriable).toBe(false);
      const issue = err.issues.find((i) => i.path === want.path && want.message.test(i.message));
      expect(issue, `issues were:\n${err.issues.map(formatIssue).join("\n")}`).toBeDefined();
      expect({ line: issue!.line, column: issue!.column, file: issue!.file }).toEqual({ line: want.line, column: want.column, file });
      expect(err.message).toContain(`${file}:${want.line}:${want.column}: ${want.path}: `);
    });
  }

  test("several problems are reported together, in file order", async () => {
    const file = resolve(BAD, "many-errors.yaml");
    const err = await configError(loadTopology(file, { env: {} }));
    expect(err.code).toBe("CONFIG_INVALID");
    expect(err.issues.map((i) => `${i.line}:${i.column} ${i.path}`)).toEqual([
      "13:3 batch.maxEvnts",
      "14:12 batch.maxWait",
      "16:27 concurrency.replicas.max",
      "18:10 log.level",
    ]);
    expect(err.issues[0]!.message).toContain("did you mean `maxEvents`?");
    expect(err.issues[1]!.message).toContain("must be > 0ms");
    expect(err.message.split("\n")).toHaveLength(5); // the summary line + one line per issue
  });

  test("a missing file is CONFIG_NOT_FOUND naming the path", async () => {
    const file = resolve(BAD, "does-not-exist.yaml");
    const err = await configError(loadTopology(file));
    expect(err.code).toBe("CONFIG_NOT_FOUND");
    expect(err.message).toContain(file);
  });

  test("a file over the size limit is CONFIG_LIMIT at 1:1 before it is parsed", async () => {
    const { parseTopology } = await import("../../shared/topology/index.ts");
    const big = `name: big\n# ${"x".repeat(1024 * 1024)}\n`;
    const err = await configError(() => parseTopology(big, "/tmp/big.yaml", {}));
    expect(err.code).toBe("CONFIG_LIMIT");
    expect(err.issues[0]).toMatchObject({ line: 1, column: 1, path: "" });
    expect(err.issues[0]!.message).toContain("may be at most 1048576");
  });

  test("nesting deeper than the limit is CONFIG_LIMIT naming the key, and the walk stops there", async () => {
    const { parseTopology } = await import("../../shared/topology/index.ts");
    const deep = `name: deep\nsource: {mock: {}}\nstages:\n  - enrich:\n  - custom: {name: c, module: ./x.ts, options: {a: ${"[".repeat(80)}${"]".repeat(80)}}}\n`;
    const err = await configError(() => parseTopology(deep, "/tmp/deep.yaml", {}));
    expect(err.code).toBe("CONFIG_LIMIT");
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]!.line).toBe(5);
    expect(err.issues[0]!.path).toStartWith("stages[1].custom.options.a[0][0]");
    expect(err.issues[0]!.message).toBe("nested deeper than 64 levels");
  });

  test("an empty file and a non-mapping file are invalid at 1:1", async () => {
    const { parseTopology } = await import("../../shared/topology/index.ts");
    const empty = await configError(() => parseTopology("", "/tmp/empty.yaml", {}));
    expect(empty.issues[0]).toMatchObject({ line: 1, column: 1, path: "" });
    expect(empty.issues[0]!.message).toContain("the file is empty");
    const list = await configError(() => parseTopology("- a\n- b\n", "/tmp/list.yaml", {}));
    expect(list.issues[0]).toMatchObject({ line: 1, column: 1 });
    expect(list.issues[0]!.message).toContain("expected a mapping of keys at the top level, got a list");
  });
});
