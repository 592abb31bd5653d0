/** The shipped JSON Schema is generated from the same descriptors as the validator and is up to date. */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse } from "yaml";
import { topologyJsonSchema, topologyReference } from "../../shared/topology/index.ts";
import { schemaFilePath, schemaFileText } from "../../shared/topology/schema-file.ts";
import { checkJsonSchema } from "./json-schema-check.ts";
import { BAD, GOOD, TOPOLOGIES } from "./support.ts";
import { STAGE_SPECS } from "../../shared/stages/registry.ts";

type Json = Record<string, any>;

/** Every object schema (with `properties`) in the document. */
function objectSchemas(node: unknown, out: Json[] = []): Json[] {
  if (Array.isArray(node)) node.forEach((n) => objectSchemas(n, out));
  else if (node && typeof node === "object") {
    if ((node as Json).type === "object" && "properties" in node) out.push(node as Json);
    Object.values(node).forEach((n) => objectSchemas(n, out));
  }
  return out;
}

describe("JSON Schema", () => {
  test("topologies/topology.schema.json is up to date (regenerate: bun shared/topology/write-schema.ts)", () => {
    expect(readFileSync(schemaFilePath(), "utf8")).toBe(schemaFileText());
  });

  test("is draft-07 with closed objects, descriptions everywhere and defaults", () => {
    const s = topologyJsonSchema() as Json;
    expect(s.$schema).toBe("http://json-schema.org/draft-07/schema#");
    expect(s.required).toEqual(["name", "source", "stages"]);
    const objects = objectSchemas(s);
    expect(objects.length).toBeGreaterThan(15);
    for (const o of objects) {
      expect(o.additionalProperties).toBe(false);
      for (const [key, prop] of Object.entries(o.properties as Json)) {
        // Tagged variants carry the description one level down.
        const described = (prop as Json).description ?? (prop as Json).anyOf?.[0]?.description;
        expect(typeof described, `property ${key}`).toBe("string");
      }
    }
    expect(s.properties.batch.properties.maxEvents.default).toBe(5000);
    expect(s.properties.batch.properties.maxWait.default).toBe(50);
    expect(s.properties.log.properties.level.anyOf[0].enum).toEqual(["trace", "debug", "info", "warn", "error", "fatal"]);
    expect(s.properties.source.minProperties).toBe(1);
    expect(s.properties.source.maxProperties).toBe(1);
  });

  test("the stages list offers exactly the registered stage kinds as single-key maps", () => {
    const s = topologyJsonSchema() as Json;
    const variants = s.properties.stages.items.oneOf as Json[];
    expect(variants.map((v) => v.required)).toEqual(STAGE_SPECS.map((spec) => [spec.kind]));
    expect(STAGE_SPECS.map((spec) => spec.kind)).toEqual(expect.arrayContaining(["enrich", "filter", "dedupe", "limit", "persist", "kafkaSink", "custom"]));
    for (const v of variants) expect(v.additionalProperties).toBe(false);
  });

  test("numbers and enums also accept ${VAR} references, as the validator does", () => {
    const s = topologyJsonSchema() as Json;
    const env = new RegExp(s.definitions.envRef.pattern);
    expect(env.test("${HTTP_PORT:-9464}")).toBe(true);
    expect(env.test("9464")).toBe(false);
    expect(s.properties.http.properties.port.anyOf).toContainEqual({ $ref: "#/definitions/envRef" });
  });

  test("the Markdown reference lists every key with its default", () => {
    const md = topologyReference();
    for (const row of [
      "| `batch.maxWait` | duration | `50ms` |",
      "| `stages[].dedupe.window` | duration | `1h` |",
      "| `stages[].persist.url` | string | **required** |",
      "| `stages[].enrich.threads` | integer | max(1, cores - 1) |",
      "| `deadLetter.topic` | string | `<first source topic>.dlq` |",
    ]) {
      expect(md).toContain(row);
    }
  });
});

describe("the JSON Schema agrees with the validator on real files", () => {
  const load = (file: string) => parse(readFileSync(file, "utf8"));

  test("the examples and the good fixtures pass the schema editors see", () => {
    const schema = topologyJsonSchema() as Json;
    for (const file of [resolve(TOPOLOGIES, "ingest.yaml"), resolve(TOPOLOGIES, "demo.yaml"), resolve(GOOD, "full.yaml"), resolve(GOOD, "minimal.yaml")]) {
      expect(checkJsonSchema(load(file), schema), file).toEqual([]);
    }
  });

  test("files the validator rejects on a single key are rejected by the schema too", () => {
    const schema = topologyJsonSchema() as Json;
    for (const name of [
      "unknown-top-level-key.yaml",
      "unknown-nested-key.yaml",
      "wrong-type.yaml",
      "negative-number.yaml",
      "ratio-above-one.yaml",
      "bad-duration.yaml",
      "bad-size.yaml",
      "two-sources.yaml",
      "no-source.yaml",
      "unknown-stage-kind.yaml",
      "bad-log-level.yaml",
      "port-out-of-range.yaml",
      "generator-on-kafka.yaml",
      "false-positive-rate-zero.yaml",
      "missing-name.yaml",
      "bad-name.yaml",
      "stage-two-keys.yaml",
      "string-for-number.yaml",
    ]) {
      expect(checkJsonSchema(load(resolve(BAD, name)), schema).length, name).toBeGreaterThan(0);
    }
  });
});
