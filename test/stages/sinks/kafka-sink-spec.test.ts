/**
 * The Kafka sink's spec through the topology loader (defaults, the properties it owns, explain), and the
 * enrich plan built from what the stages after enrich declare they need.
 */
import { needsOf } from "../../../shared/stages/registry.ts";
import { describe, expect, test } from "bun:test";
import { ConfigError } from "../../../shared/errors/index.ts";
import { buildEnrichPlan } from "../../../shared/stages/enrich/plan.ts";
import type { EnrichStageConfig } from "../../../shared/stages/enrich/config.ts";
import { kafkaSinkSpec } from "../../../shared/stages/kafka-sink/spec.ts";
import type { KafkaSinkStageConfig } from "../../../shared/stages/kafka-sink/config.ts";
import { mergeNeeds } from "../../../shared/stages/needs.ts";
import { parseTopology } from "../../../shared/topology/index.ts";

const topology = (sink: string, more = "") =>
  parseTopology(
    `name: sinkspec
source:
  kafka: { brokers: "127.0.0.1:9092", topics: [in], group: g }
stages:
  - enrich: { threads: 1 }
${more}  - kafkaSink: ${sink}
`,
    "/test/sinkspec.yaml",
    {},
  );

describe("kafkaSink spec", () => {
  test("resolves with its defaults", () => {
    const t = topology(`{ brokers: "127.0.0.1:9092", topic: out }`);
    expect(t.stages[1]).toEqual({
      kind: "kafkaSink",
      name: "kafkaSink",
      brokers: "127.0.0.1:9092",
      topic: "out",
      key: "id",
      mode: "structured",
      maxRecordBytes: 1_000_000,
      deliveryTimeoutMs: 30_000,
      properties: {},
    } satisfies KafkaSinkStageConfig);
  });

  test("refuses producer properties that would break its exactness, naming the key", () => {
    let err: unknown;
    try {
      topology(`{ brokers: "127.0.0.1:9092", topic: out, properties: { enable.idempotence: "false", acks: "1", linger.ms: "20" } }`);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toContain("stages[1].kafkaSink.properties.enable.idempotence");
    expect(msg).toContain("stages[1].kafkaSink.properties.acks");
    expect(msg).not.toContain("linger.ms");
  });

  test("explain states the crash window", () => {
    const cfg = topology(`{ brokers: "127.0.0.1:9092", topic: out, mode: binary, key: source }`).stages[1] as KafkaSinkStageConfig;
    const lines = kafkaSinkSpec.explain(cfg, { cores: 2, replicas: { min: 1, max: 1 }, activeReplicas: 1 }).join("\n");
    expect(lines).toContain("binary mode, keyed by `source`");
    expect(lines).toContain("a crash between the acks and that commit produces the batch again");
  });
});

describe("the enrich plan is the union of what the stages after enrich need", () => {
  const plan = (t: ReturnType<typeof topology>) => buildEnrichPlan(t.stages[0] as EnrichStageConfig, t, 0, needsOf);

  test("a structured-mode Kafka sink asks for JSON, a binary one does not; neither for COPY rows or probes", () => {
    expect(plan(topology(`{ brokers: b, topic: out }`))).toMatchObject({ json: true, columns: null, dedupe: null });
    expect(plan(topology(`{ brokers: b, topic: out, mode: binary }`))).toMatchObject({ json: false, columns: null, dedupe: null });
  });

  test("with dedupe and persist before the sink, the plan holds the probes, the COPY columns and the JSON", () => {
    const p = plan(topology(`{ brokers: b, topic: out }`, `  - dedupe: { backend: memory }\n  - persist: { url: embedded }\n`));
    expect(p.json).toBe(true);
    expect(p.columns?.slice(0, 3)).toEqual(["id", "source", "type"]);
    expect(p.dedupe?.keyFields).toEqual(["source", "id"]);
  });

  test("two stages asking for different encodings of one kind are a ConfigError naming both", () => {
    const a = { stage: "a", needs: { copyRows: { columns: ["id" as const], partitionWindow: null } } };
    const b = { stage: "b", needs: { copyRows: { columns: ["source" as const], partitionWindow: null } } };
    expect(() => mergeNeeds([a, b])).toThrow(/stages "a" and "b" need different copyRows/);
    expect(mergeNeeds([a, a, { stage: "c", needs: { json: true } }])).toEqual({ copyRows: a.needs.copyRows, json: true });
  });
});
