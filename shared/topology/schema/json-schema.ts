/**
 * Generates the JSON Schema (draft-07, understood by yaml-language-server and most editors) from the same
 * descriptors the validator uses. Values that may come from `${VAR}` (numbers, booleans, enums, patterned
 * strings) also accept an env reference, since the editor sees the file before interpolation.
 */
import { DURATION_PATTERN, SIZE_PATTERN, formatDuration, formatSize } from "../../config/units.ts";
import type { Desc, ObjectDesc } from "../../config/dsl.ts";

type Json = Record<string, unknown>;

const ENV_REF = { $ref: "#/definitions/envRef" };

/** The JSON Schema document for a root object descriptor. */
export function toJsonSchema(root: ObjectDesc, title: string): Json {
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    title,
    ...convert(root),
    definitions: {
      envRef: {
        type: "string",
        pattern: "\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}",
        description: "A value taken from the environment when the file is loaded: ${VAR} or ${VAR:-default}.",
      },
    },
  };
}

function convert(d: Desc): Json {
  const meta: Json = { description: describe(d) };
  if (d.default !== undefined && d.kind !== "object") meta.default = d.default;
  switch (d.kind) {
    case "string": {
      const base: Json = { type: d.coerce ? ["string", "number", "boolean"] : "string" };
      if (d.enum) base.enum = [...d.enum];
      if (d.pattern) base.pattern = d.pattern;
      if (d.minLength !== undefined) base.minLength = d.minLength;
      if (d.maxLength !== undefined) base.maxLength = d.maxLength;
      return d.enum || d.pattern ? { ...meta, anyOf: [base, ENV_REF] } : { ...meta, ...base };
    }
    case "integer":
    case "number": {
      const base: Json = { type: d.kind };
      if (d.min !== undefined) base.minimum = d.min;
      if (d.max !== undefined) base.maximum = d.max;
      if (d.exclusiveMin !== undefined) base.exclusiveMinimum = d.exclusiveMin;
      if (d.exclusiveMax !== undefined) base.exclusiveMaximum = d.exclusiveMax;
      return { ...meta, anyOf: [base, ENV_REF] };
    }
    case "boolean":
      return { ...meta, anyOf: [{ type: "boolean" }, ENV_REF] };
    case "duration":
    case "size": {
      const num: Json = { type: "number" };
      if (d.min !== undefined) num.minimum = d.min;
      if (d.exclusiveMin !== undefined) num.exclusiveMinimum = d.exclusiveMin;
      const pattern = d.kind === "duration" ? DURATION_PATTERN : SIZE_PATTERN;
      return { ...meta, anyOf: [num, { type: "string", pattern }, ENV_REF] };
    }
    case "object":
      return { ...meta, ...objectSchema(d) };
    case "array": {
      const out: Json = { ...meta, type: "array", items: convert(d.items) };
      if (d.minItems !== undefined) out.minItems = d.minItems;
      if (d.uniqueItems) out.uniqueItems = true;
      return out;
    }
    case "map":
      return { ...meta, type: "object", additionalProperties: convert(d.values) };
    case "tagged":
      return {
        ...meta,
        oneOf: Object.entries(d.variants).map(([kind, v]) => ({
          type: "object",
          properties: { [kind]: hasRequired(v) ? convert(v) : { anyOf: [convert(v), { type: "null" }] } },
          required: [kind],
          additionalProperties: false,
        })),
      };
    case "either":
      return { ...meta, anyOf: [convert(d.scalar), objectSchema(d.object)] };
    case "any":
      return meta;
  }
}

function objectSchema(d: ObjectDesc): Json {
  const out: Json = {
    type: "object",
    properties: Object.fromEntries(Object.entries(d.fields).map(([k, f]) => [k, convert(f)])),
    additionalProperties: false,
  };
  const required = requiredKeys(d);
  if (required.length > 0) out.required = required;
  if (d.exactlyOne) Object.assign(out, { minProperties: 1, maxProperties: 1 });
  return out;
}

/** Keys that must be written: no default and not optional. */
export function requiredKeys(d: ObjectDesc): string[] {
  return Object.entries(d.fields)
    .filter(([, f]) => f.default === undefined && !f.optional)
    .map(([k]) => k);
}

function hasRequired(d: Desc): boolean {
  return d.kind === "object" && requiredKeys(d).length > 0;
}

/** The description plus notes, units and (unless `withDefault` is false) readable defaults, as editors show it on hover. */
export function describe(d: Desc, withDefault = true): string {
  const parts = [d.description];
  if ("note" in d && d.note) parts.push(`(${d.note}.)`);
  if (d.kind === "duration") parts.push("Milliseconds, or a string like 250ms, 30s, 5m, 1h, 1d.");
  if (d.kind === "size") parts.push("Bytes, or a string like 512KiB, 8MiB, 1GB.");
  if (!withDefault) return parts.join(" ");
  if (d.dynamicDefault) parts.push(`Default: ${d.dynamicDefault}.`);
  else if (d.defaultSummary) parts.push(`Default: ${d.defaultSummary}.`);
  else if (d.kind === "duration" && typeof d.default === "number") parts.push(`Default: ${formatDuration(d.default)}.`);
  else if (d.kind === "size" && typeof d.default === "number") parts.push(`Default: ${formatSize(d.default)}.`);
  return parts.join(" ");
}
