/**
 * A minimal draft-07 checker covering exactly the keywords topology.schema.json uses, so tests can confirm
 * that what editors see accepts the example files (no JSON Schema package is a dependency of this repo).
 */
type Json = Record<string, any>;

/** Problems of `value` against `schema` (empty when valid); `root` resolves `#/definitions/...` refs. */
export function checkJsonSchema(value: unknown, schema: Json, root: Json = schema, path = "$"): string[] {
  if (schema.$ref) {
    const target = (schema.$ref as string).replace(/^#\//, "").split("/").reduce((o: Json, k) => o[k], root);
    return checkJsonSchema(value, target, root, path);
  }
  const problems: string[] = [];
  const fail = (m: string) => problems.push(`${path}: ${m}`);
  if (schema.anyOf && !(schema.anyOf as Json[]).some((s) => checkJsonSchema(value, s, root, path).length === 0)) fail("matches no anyOf branch");
  if (schema.oneOf && (schema.oneOf as Json[]).filter((s) => checkJsonSchema(value, s, root, path).length === 0).length !== 1) fail("matches not exactly one oneOf branch");
  if (schema.type !== undefined) {
    const types: string[] = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => typeOk(value, t))) return [...problems, `${path}: expected ${types.join("|")}, got ${JSON.stringify(value)}`];
  }
  if (schema.enum && !schema.enum.includes(value)) fail(`not in enum: ${JSON.stringify(value)}`);
  if (typeof value === "string") {
    if (schema.pattern && !new RegExp(schema.pattern).test(value)) fail(`does not match ${schema.pattern}`);
    if (schema.minLength !== undefined && value.length < schema.minLength) fail("too short");
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) fail("below minimum");
    if (schema.maximum !== undefined && value > schema.maximum) fail("above maximum");
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) fail("not above exclusiveMinimum");
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) fail("not below exclusiveMaximum");
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) fail("too few items");
    if (schema.items) value.forEach((v, i) => problems.push(...checkJsonSchema(v, schema.items, root, `${path}[${i}]`)));
  } else if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    for (const r of schema.required ?? []) if (!keys.includes(r)) fail(`missing ${r}`);
    if (schema.minProperties !== undefined && keys.length < schema.minProperties) fail("too few properties");
    if (schema.maxProperties !== undefined && keys.length > schema.maxProperties) fail("too many properties");
    for (const k of keys) {
      const sub = schema.properties?.[k] ?? (typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined);
      if (sub) problems.push(...checkJsonSchema((value as Json)[k], sub, root, `${path}.${k}`));
      else if (schema.additionalProperties === false) fail(`unknown key ${k}`);
    }
  }
  return problems;
}

function typeOk(v: unknown, t: string): boolean {
  if (t === "integer") return Number.isInteger(v);
  if (t === "array") return Array.isArray(v);
  if (t === "null") return v === null;
  if (t === "object") return v !== null && typeof v === "object" && !Array.isArray(v);
  return typeof v === t;
}
