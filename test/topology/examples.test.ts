/** The shipped example topologies validate, with and without their environment variables set. */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { explainTopology, loadTopology, type EnrichStageConfig } from "../../shared/topology/index.ts";
import { TOPOLOGIES } from "./support.ts";

describe("example topologies", () => {
  for (const name of ["ingest.yaml", "demo.yaml"]) {
    test(`${name} starts with the schema modeline and validates with no environment`, async () => {
      const file = resolve(TOPOLOGIES, name);
      expect(readFileSync(file, "utf8").split("\n")[0]).toBe("# yaml-language-server: $schema=./topology.schema.json");
      const t = await loadTopology(file, { env: {} });
      expect(t.warnings).toEqual([]);
      expect(explainTopology(t, { cores: 2 })).toContain("What bounds throughput");
    });
  }

  test("ingest.yaml: real Kafka from KAFKA_BROKERS, redis dedupe, persist to DATABASE_URL, autoscaling 1..8", async () => {
    const env = {
      KAFKA_BROKERS: "k1:9092,k2:9092",
      REDIS_URL: "redis://:pw@cache:6379",
      DATABASE_URL: "postgres://app:pw@db:5432/app",
    };
    const t = await loadTopology(resolve(TOPOLOGIES, "ingest.yaml"), { env });
    expect(t.warnings).toEqual([]); // the passwords came from the environment
    expect(t.source).toMatchObject({ kind: "kafka", brokers: "k1:9092,k2:9092", topics: ["events"] });
    expect(t.stages.map((s) => s.kind)).toEqual(["enrich", "dedupe", "persist"]);
    const enrich = t.stages[0] as EnrichStageConfig;
    expect(enrich.tenantFromSource).toBe(true);
    expect(enrich.lookups[0]).toMatchObject({ kind: "file", path: resolve(TOPOLOGIES, "lookups/tenants.json") });
    expect(JSON.parse(readFileSync(resolve(TOPOLOGIES, "lookups/tenants.json"), "utf8"))).toBeObject();
    expect(t.stages[1]).toMatchObject({ backend: "redis", redisUrl: env.REDIS_URL });
    expect(t.stages[2]).toMatchObject({ url: env.DATABASE_URL });
    expect(t.concurrency.replicas).toEqual({ min: 1, max: 8, lagPerReplica: 50_000 });
    expect(t.deadLetter.topic).toBe("events.dlq");
  });

  test("demo.yaml: mock source with generator, memory dedupe, embedded persist, one replica", async () => {
    const t = await loadTopology(resolve(TOPOLOGIES, "demo.yaml"), { env: {} });
    expect(t.source.kind).toBe("mock");
    if (t.source.kind !== "mock") return;
    expect(t.source.generator).toMatchObject({ rate: 20_000, tenants: 8, duplicateRatio: 0.02, invalidRatio: 0.01 });
    expect(t.source.generator!.binaryRatio).toBeGreaterThan(0);
    expect(t.stages[1]).toMatchObject({ kind: "dedupe", backend: "memory" });
    expect(t.stages[2]).toMatchObject({ kind: "persist", url: "embedded" });
    expect(t.concurrency.replicas).toEqual({ min: 1, max: 1, lagPerReplica: 100_000 });
  });
});
