/** Defaults filled, computed defaults, relative paths made absolute, and the --replicas override. */
import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { DEFAULT_COLUMNS, loadTopology, parseTopology, type DedupeStageConfig, type EnrichStageConfig, type PersistStageConfig } from "../../shared/topology/index.ts";
import { configError, GOOD } from "./support.ts";

const SECRETS = { KAFKA_PASSWORD: "k", LOOKUP_PASSWORD: "l", REDIS_PASSWORD: "r", PG_PASSWORD: "p" };

describe("defaults", () => {
  test("a minimal file resolves with every documented default", async () => {
    const t = await loadTopology(resolve(GOOD, "minimal.yaml"), { env: {}, cores: 4 });
    expect(t.file).toBe(resolve(GOOD, "minimal.yaml"));
    expect(t.source).toEqual({
      kind: "kafka",
      brokers: "localhost:9092",
      topics: ["events"],
      group: "topofleet-minimal",
      start: "earliest",
      membership: { static: true, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 500 },
      properties: {},
    });
    const [enrich, dedupe, persist] = t.stages as [EnrichStageConfig, DedupeStageConfig, PersistStageConfig];
    expect(enrich).toEqual({
      kind: "enrich",
      name: "enrich",
      threads: 3, // max(1, cores - 1) with cores = 4
      ingestTimestamp: true,
      tenantFromSource: false,
      maxEventBytes: 1024 * 1024,
      maxAttributes: 256,
      sliceTimeoutMs: 30_000,
      lookups: [],
      module: null,
    });
    expect(dedupe).toEqual({
      kind: "dedupe",
      name: "dedupe",
      backend: "redis",
      redisUrl: "redis://127.0.0.1:6379",
      prefix: "tf:minimal",
      keyFields: ["source", "id"],
      expectedPerWindow: 10_000_000,
      falsePositiveRate: 0.001,
      windowMs: 3_600_000,
      perTenant: false,
      tenantFilters: 16,
      bloom: { expansion: 2, nonScaling: false, maxFilters: 4 },
      onMaybeSeen: "verify",
      onRedisDown: "fail",
      redisMode: "auto",
    });
    expect(persist).toEqual({
      kind: "persist",
      name: "persist",
      url: "postgres://postgres@127.0.0.1:5432/test",
      schema: "public",
      table: "events",
      connections: 4,
      manageSchema: true,
      partitionsAheadDays: 3,
      retentionDays: 90,
      maintenanceIntervalMs: 600_000,
      ginIndexOnData: false,
      columns: [...DEFAULT_COLUMNS],
      method: "copy",
    });
    expect(persist.columns.map((c) => c.column)).toEqual([
      "id", "source", "type", "subject", "time", "tenant", "data", "extensions", "ingested_at", "kafka_partition", "kafka_offset",
    ]);
    expect(t.deadLetter).toEqual({ topic: "events.dlq" });
    expect(t.batch).toEqual({ maxEvents: 5000, maxBytes: 8 * 1024 * 1024, maxWaitMs: 50 });
    expect(t.concurrency).toEqual({ replicas: { min: 1, max: 1, lagPerReplica: 100_000 }, inFlightBatches: 4 });
    expect(t.http).toEqual({ port: 9464, host: "0.0.0.0" });
    expect(t.log).toEqual({ level: "info" });
    expect(t.shutdown).toEqual({ deadlineMs: 30_000 });
    expect(t.warnings).toEqual([]);
  });

  test("enrich threads default to one on a single-core machine", async () => {
    const t = await loadTopology(resolve(GOOD, "minimal.yaml"), { env: {}, cores: 1 });
    expect((t.stages[0] as EnrichStageConfig).threads).toBe(1);
  });

  test("every written value wins over its default, with units converted", async () => {
    const t = await loadTopology(resolve(GOOD, "full.yaml"), { env: SECRETS });
    const enrich = t.stages[0] as EnrichStageConfig;
    expect([enrich.threads, enrich.ingestTimestamp, enrich.maxEventBytes]).toEqual([3, false, 512 * 1024]);
    const dedupe = t.stages[2] as DedupeStageConfig;
    expect([dedupe.windowMs, dedupe.redisMode, dedupe.keyFields, dedupe.perTenant]).toEqual([1_800_000, "bitmap", ["source", "id", "type"], true]);
    const persist = t.stages[3] as PersistStageConfig;
    expect([persist.name, persist.maintenanceIntervalMs, persist.method, persist.columns.length]).toEqual(["store", 3_600_000, "unnest", 4]);
    expect(t.source.kind === "kafka" && t.source.properties["fetch.min.bytes"]).toBe("1024"); // librdkafka wants strings
    expect(t.batch).toEqual({ maxEvents: 2000, maxBytes: 4 * 1024 * 1024, maxWaitMs: 250 });
    expect(t.concurrency).toEqual({ replicas: { min: 2, max: 6, lagPerReplica: 20_000 }, inFlightBatches: 2 });
    expect(t.http).toEqual({ port: 0, host: "127.0.0.1" });
    expect(t.shutdown.deadlineMs).toBe(60_000);
    const lookup = enrich.lookups[1];
    expect(lookup?.kind === "postgres" && lookup.refreshMs).toBe(30_000);
  });

  test("a mock source fills its own defaults and its generator's", () => {
    const t = parseTopology(
      "name: m\nsource:\n  mock:\n    generator: {events: 500}\nstages:\n  - enrich:\n",
      "/tmp/m.yaml",
      {},
    );
    expect(t.source).toEqual({
      kind: "mock",
      brokers: 1,
      partitions: 8,
      topics: ["events"],
      group: "topofleet-m",
      start: "earliest",
      membership: { static: true, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 500 },
      properties: {},
      generator: { rate: 20_000, events: 500, tenants: 8, duplicateRatio: 0, invalidRatio: 0, binaryRatio: 0, payloadBytes: 256 },
    });
    const noGen = parseTopology("name: m\nsource:\n  mock: {}\nstages:\n  - enrich:\n", "/tmp/m.yaml", {});
    expect(noGen.source.kind === "mock" && noGen.source.generator).toBeNull();
  });
});

describe("retry", () => {
  const base = "name: r\nsource:\n  mock: {}\nstages:\n  - enrich:\n";

  test("without `retry:` the engine's documented defaults apply", () => {
    expect(parseTopology(base, "/tmp/r.yaml", {}).retry).toEqual({
      backoff: { initialMs: 100, maxMs: 10_000, multiplier: 2, jitter: "equal" },
      commit: { rebalanceRetryMs: 5_000, holdMaxMs: 30_000 },
    });
  });

  test("every retry key is read, with durations in ms", () => {
    const text = `${base}retry:\n  initial: 250ms\n  max: 1m\n  multiplier: 3\n  jitter: decorrelated\n  commit:\n    rebalanceRetry: 2s\n    holdMax: 45s\n`;
    expect(parseTopology(text, "/tmp/r.yaml", {}).retry).toEqual({
      backoff: { initialMs: 250, maxMs: 60_000, multiplier: 3, jitter: "decorrelated" },
      commit: { rebalanceRetryMs: 2_000, holdMaxMs: 45_000 },
    });
  });
});

describe("relative paths", () => {
  test("custom module, enrich module (extension omitted) and lookup file resolve against the topology's directory", async () => {
    const t = await loadTopology(resolve(GOOD, "full.yaml"), { env: SECRETS });
    const enrich = t.stages[0] as EnrichStageConfig;
    expect(enrich.module).toBe(resolve(GOOD, "modules/enrich.ts"));
    expect(enrich.lookups[0]).toEqual({ kind: "file", name: "plan", path: resolve(GOOD, "lookups/plans.json"), key: "tenantid", into: "plan" });
    const custom = t.stages[1];
    expect(custom).toEqual({
      kind: "custom",
      name: "filter", // defaults to the module's file name
      module: resolve(GOOD, "stages/filter.ts"),
      options: { keepTypes: ["order.created"], apiToken: "" },
    });
  });

  test("paths resolve against the file's directory, not the working directory", async () => {
    const cwd = process.cwd();
    process.chdir("/");
    try {
      const t = await loadTopology(resolve(GOOD, "full.yaml"), { env: SECRETS });
      expect((t.stages[1] as { module: string }).module).toBe(resolve(GOOD, "stages/filter.ts"));
    } finally {
      process.chdir(cwd);
    }
  });

  test("a missing custom module is an issue at its key path", async () => {
    const text = "name: m\nsource:\n  mock: {}\nstages:\n  - enrich:\n  - custom:\n      module: ./nope/stage.ts\n";
    const err = await configError(() => parseTopology(text, resolve(GOOD, "inline.yaml"), {}));
    expect(err.issues[0]).toMatchObject({ path: "stages[1].custom.module", line: 7, column: 15 });
    expect(err.issues[0]!.message).toContain(resolve(GOOD, "nope/stage.ts"));
  });
});

describe("replicas", () => {
  test("`replicas: N` means fixed replicas", () => {
    const t = parseTopology("name: r\nsource:\n  mock: {}\nstages:\n  - enrich:\nconcurrency:\n  replicas: 3\n", "/tmp/r.yaml", {});
    expect(t.concurrency.replicas).toEqual({ min: 3, max: 3, lagPerReplica: 100_000 });
  });

  test("the --replicas override fixes the count and keeps lagPerReplica", async () => {
    const t = await loadTopology(resolve(GOOD, "full.yaml"), { env: SECRETS, overrides: { replicas: 4 } });
    expect(t.concurrency.replicas).toEqual({ min: 4, max: 4, lagPerReplica: 20_000 });
  });

  test("a bad --replicas override is a ConfigError", async () => {
    const err = await configError(loadTopology(resolve(GOOD, "full.yaml"), { env: SECRETS, overrides: { replicas: 0 } }));
    expect(err.issues[0]!.path).toBe("concurrency.replicas");
    expect(err.issues[0]!.message).toContain("--replicas");
  });
});

describe("group membership", () => {
  const file = (extra: string) => `name: m\nsource:\n  kafka:\n    brokers: b:9092\n    topics: [e]\n${extra}stages:\n  - enrich:\n`;

  test("the heartbeat defaults to a tenth of the session timeout, at most 500 ms; static membership can be turned off", () => {
    const t = parseTopology(file("    sessionTimeout: 15s\n    staticMembership: false\n"), "/tmp/m.yaml", {});
    expect(t.source.membership).toEqual({ static: false, sessionTimeoutMs: 15_000, heartbeatIntervalMs: 500 });
    const short = parseTopology(file("    sessionTimeout: 3s\n"), "/tmp/m.yaml", {});
    expect(short.source.membership.heartbeatIntervalMs).toBe(300);
    const floor = parseTopology(file("    sessionTimeout: 1s\n"), "/tmp/m.yaml", {});
    expect(floor.source.membership.heartbeatIntervalMs).toBe(100);
    const set = parseTopology(file("    heartbeatInterval: 2s\n"), "/tmp/m.yaml", {});
    expect(set.source.membership.heartbeatIntervalMs).toBe(2_000);
  });

  test("a heartbeat above a third of the session timeout, or hand-set membership properties, are errors naming the key", () => {
    const bad = () =>
      parseTopology(
        file('    sessionTimeout: 6s\n    heartbeatInterval: 3s\n    properties:\n      group.instance.id: "x"\n      session.timeout.ms: "7000"\n'),
        "/tmp/m.yaml",
        {},
      );
    expect(bad).toThrow(/heartbeatInterval: must be at most a third of sessionTimeout \(6000 ms\), got 3000 ms/);
    expect(bad).toThrow(/properties\["group.instance.id"\]: set `staticMembership` instead/);
    expect(bad).toThrow(/properties\["session.timeout.ms"\]: set `sessionTimeout` instead/);
  });

  test("a session timeout under the brokers' default minimum is a warning, above 30m an error", () => {
    expect(parseTopology(file("    sessionTimeout: 3s\n"), "/tmp/m.yaml", {}).warnings.join("\n")).toMatch(/sessionTimeout: 3000 ms is below 6s/);
    expect(() => parseTopology(file("    sessionTimeout: 31m\n"), "/tmp/m.yaml", {})).toThrow(/sessionTimeout: must be at most 30m/);
  });
});
