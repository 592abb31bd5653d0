/**
 * Walks the parsed YAML against the schema descriptors (schema/dsl.ts): interpolates `${VAR}` in every string
 * scalar, checks types, ranges, enums, patterns and unknown keys, fills static defaults, and records every
 * problem with its line, column and key path. It never stops at the first problem: an invalid value becomes
 * its default (or undefined) so the walk and the cross-field rules can report everything in one pass.
 */
import { isAlias, isMap, isScalar, isSeq, type Node, type Pair, type Scalar, type YAMLMap } from "yaml";
import { Diagnostics, joinIndex, joinKey, type Pos } from "../config/diagnostics.ts";
import { hasLiteralIn, interpolate, type Env } from "./interpolate.ts";
import type { Desc, EitherDesc, NumberDesc, ObjectDesc, StringDesc, TaggedDesc, UnitDesc } from "../config/dsl.ts";
import { isSecretKey, isSecretMap, urlSecretRanges } from "../config/secrets.ts";
import { didYouMean } from "../config/suggest.ts";
import { durationProblem, sizeProblem, tryParseDuration, tryParseSize } from "../config/units.ts";
import { posAt, posOf, YAML_LIMITS, type YamlSource } from "./yaml-source.ts";

/** Marks a value that failed validation (the issue is already recorded). */
const INVALID = Symbol("invalid");
type Out = unknown;

interface Cx {
  src: YamlSource;
  env: Env;
  diag: Diagnostics;
  /** Nodes walked so far, counting every expansion of an alias (what `*ref` really costs). */
  nodes: number;
  /** Set once a limit was hit: the walk then stops, since the rest would only repeat the same cost. */
  limitHit: boolean;
  /** The outermost alias being expanded: where a limit hit inside it is reported. */
  expanding: Node | null;
}

/** A scalar's value after interpolation, and whether any of it came from `${...}`. */
interface ScalarValue {
  value: unknown;
  interpolated: boolean;
}

/** Validates the whole document against `root`; returns the validated value (partial when issues were found). */
export function validateDocument(src: YamlSource, root: ObjectDesc, env: Env, diag: Diagnostics): Record<string, unknown> {
  const cx: Cx = { src, env, diag, nodes: 0, limitHit: false, expanding: null };
  const contents = deref(cx, src.doc.contents as Node | null);
  if (isNull(contents)) {
    diag.addAt({ line: 1, column: 1 }, "", "the file is empty: a topology needs at least `name`, `source` and `stages`");
    return {};
  }
  if (!isMap(contents)) {
    diag.addAt(posOf(src, contents), "", `expected a mapping of keys at the top level, got ${nodeKind(contents)}`);
    return {};
  }
  return walkObject(cx, contents, root, "", posOf(src, contents));
}

function walk(cx: Cx, node: Node | null, d: Desc, path: string, secretKey = false): Out {
  if (isAlias(node) && !cx.expanding) {
    cx.expanding = node;
    try {
      return walk(cx, node, d, path, secretKey);
    } finally {
      cx.expanding = null;
    }
  }
  node = deref(cx, node);
  if (overLimit(cx, cx.expanding ?? node, path)) return INVALID;
  if (node) cx.diag.place(path, posOf(cx.src, node));
  switch (d.kind) {
    case "object":
      if (isNull(node)) return walkObject(cx, null, d, path, cx.diag.at(path));
      if (!isMap(node)) return typeIssue(cx, node, path, "a mapping");
      return walkObject(cx, node, d, path, posOf(cx.src, node));
    case "array":
      return walkArray(cx, node, d, path);
    case "map":
      return walkMap(cx, node, d.values, path, secretKey);
    case "tagged":
      return walkTagged(cx, node, d, path);
    case "either":
      return walkEither(cx, node, d, path);
    case "any":
      return walkAny(cx, node, path, secretKey);
    case "string":
      return checkString(cx, node, d, path, secretKey);
    case "integer":
    case "number":
      return checkNumber(cx, node, d, path, secretKey);
    case "boolean":
      return checkBoolean(cx, node, path, secretKey);
    case "duration":
    case "size":
      return checkUnit(cx, node, d, path, secretKey);
  }
}

function walkObject(cx: Cx, node: YAMLMap | null, d: ObjectDesc, path: string, where: Pos): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const given = new Map<string, { pair: Pair; keyPos: Pos }>();
  for (const pair of (node?.items ?? []) as Pair[]) {
    const key = keyOf(cx, pair, path);
    if (key === undefined) continue;
    const keyPos = posOf(cx.src, pair.key as Node);
    const childPath = joinKey(path, key);
    if (!(key in d.fields)) {
      const misplaced = d.misplaced?.[key];
      const hint = misplaced ? `: ${misplaced}` : didYouMean(key, Object.keys(d.fields)) || ` (allowed here: ${Object.keys(d.fields).join(", ")})`;
      cx.diag.addAt(keyPos, childPath, `unknown key \`${key}\`${hint}`);
      continue;
    }
    given.set(key, { pair, keyPos });
  }
  if (d.exactlyOne) checkExactlyOne(cx, d.exactlyOne, [...given.entries()].filter(([, g]) => !isNull(deref(cx, g.pair.value as Node | null))), path, where);
  for (const [key, field] of Object.entries(d.fields)) {
    const childPath = joinKey(path, key);
    const entry = given.get(key);
    const valueNode = entry ? deref(cx, entry.pair.value as Node | null) : null;
    if (entry && !isNull(valueNode)) {
      cx.diag.place(childPath, posOf(cx.src, valueNode));
      const v = walk(cx, entry.pair.value as Node | null, field, childPath, isSecretKey(key) || isSecretMap(key));
      out[key] = v === INVALID ? fallback(cx, field, childPath) : v;
      continue;
    }
    if (entry) cx.diag.place(childPath, entry.keyPos);
    if (field.default !== undefined || field.optional) {
      out[key] = fallback(cx, field, childPath);
    } else {
      const at = entry?.keyPos ?? where;
      cx.diag.addAt(at, childPath, `${entry ? `\`${key}\` needs a value` : `missing required key \`${key}\``}: ${field.description}`);
    }
  }
  return out;
}

function checkExactlyOne(cx: Cx, what: string, given: [string, { keyPos: Pos }][], path: string, where: Pos): void {
  if (given.length === 0) cx.diag.addAt(where, path, `needs exactly one of ${what}; found none`);
  for (const [key, { keyPos }] of given.slice(1)) {
    cx.diag.addAt(keyPos, joinKey(path, key), `needs exactly one of ${what}; \`${given[0]![0]}\` is already given: keep one, not both`);
  }
}

/** The value an absent or invalid field takes: its default (objects: every child's default), else undefined. */
function fallback(cx: Cx, d: Desc, path: string): unknown {
  if (d.default === undefined) return undefined;
  if (d.kind === "object") return walkObject(cx, null, d, path, cx.diag.at(path));
  return structuredClone(d.default);
}

function walkArray(cx: Cx, node: Node | null, d: Extract<Desc, { kind: "array" }>, path: string): Out {
  if (!isSeq(node)) return typeIssue(cx, node, path, "a list");
  const out: unknown[] = [];
  const seen = new Map<string, number>();
  node.items.forEach((item, i) => {
    const itemPath = joinIndex(path, i);
    const v = walk(cx, item as Node | null, d.items, itemPath);
    // Keep a hole so later items keep their indexes (and cross-field rules point at the right item).
    if (v === INVALID) return void out.push(undefined);
    if (d.uniqueItems) {
      const k = JSON.stringify(v);
      const first = seen.get(k);
      if (first !== undefined) cx.diag.add(itemPath, `duplicate of ${joinIndex(path, first)}`);
      else seen.set(k, i);
    }
    out.push(v);
  });
  if (d.minItems !== undefined && node.items.length < d.minItems) {
    cx.diag.add(path, `needs at least ${d.minItems} item${d.minItems === 1 ? "" : "s"}`);
  }
  return out;
}

function walkMap(cx: Cx, node: Node | null, values: Desc, path: string, secretValues = false): Out {
  if (!isMap(node)) return typeIssue(cx, node, path, "a mapping");
  const out: Record<string, unknown> = {};
  for (const pair of node.items as Pair[]) {
    const key = keyOf(cx, pair, path);
    if (key === undefined) continue;
    const childPath = joinKey(path, key);
    cx.diag.place(childPath, posOf(cx.src, pair.key as Node));
    const valueNode = deref(cx, pair.value as Node | null);
    const v = isNull(valueNode) && values.kind !== "any" ? typeIssue(cx, valueNode, childPath, "a value") : walk(cx, pair.value as Node | null, values, childPath, secretValues || isSecretKey(key));
    if (v !== INVALID) out[key] = v;
  }
  return out;
}

function walkTagged(cx: Cx, node: Node | null, d: TaggedDesc, path: string): Out {
  const kinds = Object.keys(d.variants);
  const expected = kinds.map((k) => `\`${k}:\``).join(", ");
  if (!isMap(node) || node.items.length !== 1) {
    const found = isMap(node) ? `found ${node.items.length} keys` : `got ${nodeKind(node)}`;
    cx.diag.add(path, `each item is a single-key mapping, one of ${expected}; ${found}`);
    return INVALID;
  }
  const pair = node.items[0] as Pair;
  const kind = keyOf(cx, pair, path);
  if (kind === undefined) return INVALID;
  const kindPath = joinKey(path, kind);
  cx.diag.place(kindPath, posOf(cx.src, pair.key as Node));
  const variant = d.variants[kind];
  if (!variant) {
    const hint = didYouMean(kind, kinds) || ` (expected one of ${expected})`;
    cx.diag.addAt(posOf(cx.src, pair.key as Node), kindPath, `unknown ${d.noun} \`${kind}\`${hint}`);
    return INVALID;
  }
  // `- enrich:` with no body means "all defaults".
  const value = walk(cx, pair.value as Node | null, variant, kindPath);
  return value === INVALID ? INVALID : { kind, value };
}

function walkEither(cx: Cx, node: Node | null, d: EitherDesc, path: string): Out {
  if (isMap(node)) return walk(cx, node, d.object, path);
  if (isScalar(node)) return walk(cx, node, d.scalar, path);
  return typeIssue(cx, node, path, `${article(d.scalar.kind)} or a mapping`);
}

function walkAny(cx: Cx, node: Node | null, path: string, secretKey: boolean): Out {
  if (isNull(node)) return null;
  if (isMap(node)) return walkMap(cx, node, { kind: "any", description: "" }, path);
  if (isSeq(node)) {
    return node.items.map((item, i) => {
      const v = walk(cx, item as Node | null, { kind: "any", description: "" }, joinIndex(path, i), secretKey);
      return v === INVALID ? null : v;
    });
  }
  if (!isScalar(node)) return typeIssue(cx, node, path, "a value");
  const s = readScalar(cx, node, path, secretKey);
  return s === INVALID ? INVALID : s.value;
}

function checkString(cx: Cx, node: Node | null, d: StringDesc, path: string, secretKey: boolean): Out {
  if (!isScalar(node)) return typeIssue(cx, node, path, "a string");
  const s = readScalar(cx, node, path, secretKey);
  if (s === INVALID) return INVALID;
  let v = s.value;
  if (typeof v !== "string") {
    if (!(d.coerce && (typeof v === "number" || typeof v === "boolean"))) {
      return valueIssue(cx, node, path, `expected a string, got ${typeof v === "object" ? "null" : typeof v} ${String(v)} (quote it: "${String(v)}")`);
    }
    v = String(v);
  }
  const text = v as string;
  const got = show(text, s.interpolated);
  if (d.minLength !== undefined && text.length < d.minLength) return valueIssue(cx, node, path, d.minLength === 1 ? "must not be empty" : `must be at least ${d.minLength} characters`);
  if (d.maxLength !== undefined && text.length > d.maxLength) return valueIssue(cx, node, path, `must be at most ${d.maxLength} characters`);
  if (d.enum && !d.enum.includes(text)) {
    return valueIssue(cx, node, path, `must be one of ${d.enum.join(", ")}, got ${got}${didYouMean(text, d.enum)}`);
  }
  if (d.pattern && !new RegExp(d.pattern).test(text)) return valueIssue(cx, node, path, `must be ${d.patternHint ?? `a string matching ${d.pattern}`}, got ${got}`);
  const problem = d.check?.(text);
  if (problem) return valueIssue(cx, node, path, problem);
  return text;
}

function checkNumber(cx: Cx, node: Node | null, d: NumberDesc, path: string, secretKey: boolean): Out {
  const what = d.kind === "integer" ? "an integer" : "a number";
  if (!isScalar(node)) return typeIssue(cx, node, path, what);
  const s = readScalar(cx, node, path, secretKey);
  if (s === INVALID) return INVALID;
  let v = s.value;
  // Values from ${VAR} are always text; numbers written in YAML arrive as numbers.
  if (typeof v === "string" && s.interpolated && v.trim() !== "" && Number.isFinite(Number(v))) v = Number(v);
  if (typeof v !== "number" || !Number.isFinite(v)) {
    const unquote = typeof v === "string" && !s.interpolated && Number.isFinite(Number(v)) && v.trim() !== "" ? " (remove the quotes)" : "";
    return valueIssue(cx, node, path, `expected ${what}, got ${show(v, s.interpolated)}${unquote}`);
  }
  if (d.kind === "integer" && !Number.isInteger(v)) return valueIssue(cx, node, path, `expected an integer, got ${v}`);
  const range = rangeProblem(v, d);
  return range ? valueIssue(cx, node, path, range) : v;
}

function checkBoolean(cx: Cx, node: Node | null, path: string, secretKey: boolean): Out {
  if (!isScalar(node)) return typeIssue(cx, node, path, "true or false");
  const s = readScalar(cx, node, path, secretKey);
  if (s === INVALID) return INVALID;
  if (typeof s.value === "boolean") return s.value;
  if (s.interpolated && (s.value === "true" || s.value === "false")) return s.value === "true";
  return valueIssue(cx, node, path, `expected true or false, got ${show(s.value, s.interpolated)}`);
}

function checkUnit(cx: Cx, node: Node | null, d: UnitDesc, path: string, secretKey: boolean): Out {
  const isDuration = d.kind === "duration";
  if (!isScalar(node)) return typeIssue(cx, node, path, isDuration ? "a duration" : "a size");
  const s = readScalar(cx, node, path, secretKey);
  if (s === INVALID) return INVALID;
  const parsed = isDuration ? tryParseDuration(s.value) : tryParseSize(s.value);
  if (parsed === undefined) return valueIssue(cx, node, path, isDuration ? durationProblem(s.value) : sizeProblem(s.value));
  const range = rangeProblem(parsed, d, isDuration ? "ms" : " bytes");
  return range ? valueIssue(cx, node, path, range) : parsed;
}

function rangeProblem(v: number, d: { min?: number; max?: number; exclusiveMin?: number; exclusiveMax?: number }, unit = ""): string | undefined {
  const lo = d.min !== undefined ? `>= ${d.min}${unit}` : d.exclusiveMin !== undefined ? `> ${d.exclusiveMin}${unit}` : undefined;
  const hi = d.max !== undefined ? `<= ${d.max}${unit}` : d.exclusiveMax !== undefined ? `< ${d.exclusiveMax}${unit}` : undefined;
  const bad =
    (d.min !== undefined && v < d.min) ||
    (d.exclusiveMin !== undefined && v <= d.exclusiveMin) ||
    (d.max !== undefined && v > d.max) ||
    (d.exclusiveMax !== undefined && v >= d.exclusiveMax);
  if (!bad) return undefined;
  return `must be ${[lo, hi].filter(Boolean).join(" and ")}, got ${v}${unit}`;
}

/** Reads a scalar, interpolating `${VAR}` in strings and checking for literal secrets. */
function readScalar(cx: Cx, node: Scalar, path: string, secretKey: boolean): ScalarValue | typeof INVALID {
  const raw = node.value;
  if (typeof raw !== "string") {
    if (secretKey && raw !== null && raw !== "") literalSecretWarning(cx, node, path);
    return { value: raw, interpolated: false };
  }
  const r = interpolate(raw, cx.env);
  if (r.problems.length > 0) {
    for (const p of r.problems) {
      cx.diag.addAt(referencePos(cx, node, p.needle), path, p.message, p.missingVariable ? "env" : "invalid");
    }
    return INVALID;
  }
  if (urlSecretRanges(r.value).some(([start, end]) => hasLiteralIn(r.segments, start, end))) {
    cx.diag.warn(posOf(cx.src, node), path, "a URL here carries a literal password; put it in the environment and write `${ENV_VAR}` instead");
  } else if (secretKey && r.value !== "" && hasLiteralIn(r.segments, 0, r.value.length)) {
    literalSecretWarning(cx, node, path);
  }
  return { value: r.value, interpolated: r.hadReference };
}

function literalSecretWarning(cx: Cx, node: Node, path: string): void {
  cx.diag.warn(posOf(cx.src, node), path, "holds a literal secret; put it in the environment and write `${ENV_VAR}` instead");
}

/** The exact column of a `${...}` inside a scalar, when the source text shows it verbatim. */
function referencePos(cx: Cx, node: Scalar, needle: string): Pos {
  const [start, end] = node.range ?? [0, 0];
  const at = cx.src.text.slice(start, end).indexOf(needle);
  return at >= 0 ? posAt(cx.src, start + at) : posOf(cx.src, node);
}

function keyOf(cx: Cx, pair: Pair, path: string): string | undefined {
  const k = deref(cx, pair.key as Node | null);
  if (isScalar(k) && k.value !== null && typeof k.value !== "object") return String(k.value);
  cx.diag.addAt(posOf(cx.src, k), path, "keys must be plain strings");
  return undefined;
}

function typeIssue(cx: Cx, node: Node | null, path: string, expected: string): typeof INVALID {
  cx.diag.addAt(node ? posOf(cx.src, node) : cx.diag.at(path), path, `expected ${expected}, got ${nodeKind(node)}`);
  return INVALID;
}

function valueIssue(cx: Cx, node: Node, path: string, message: string): typeof INVALID {
  cx.diag.addAt(posOf(cx.src, node), path, message);
  return INVALID;
}

/**
 * Bounds what a file can make the loader allocate: aliases expanded over and over (a "billion laughs" of
 * `&a [*b, *b, …]`) or nesting so deep the walk would exhaust the stack. Reported once, where the limit was
 * crossed, with the CONFIG_LIMIT code.
 */
function overLimit(cx: Cx, at: Node | null, path: string): boolean {
  if (cx.limitHit) return true;
  cx.nodes++;
  const depth = pathDepth(path);
  const why =
    cx.nodes > YAML_LIMITS.maxNodes
      ? `the file expands to more than ${YAML_LIMITS.maxNodes} values (aliases count each time they are used); is an anchor referenced recursively?`
      : depth > YAML_LIMITS.maxDepth
        ? `nested deeper than ${YAML_LIMITS.maxDepth} levels`
        : null;
  if (!why) return false;
  cx.limitHit = true;
  cx.diag.addAt(at ? posOf(cx.src, at) : cx.diag.at(path), path, why, "bound");
  return true;
}

/** Nesting depth of a key path: one per `.key` or `[index]`. */
function pathDepth(path: string): number {
  let n = 0;
  for (let i = 0; i < path.length; i++) if (path[i] === "." || path[i] === "[") n++;
  return n;
}

function deref(cx: Cx, node: Node | null): Node | null {
  return isAlias(node) ? ((node.resolve(cx.src.doc) as Node | undefined) ?? null) : node;
}

function isNull(node: Node | null): node is null | Scalar {
  return node === null || node === undefined || (isScalar(node) && node.value === null);
}

function nodeKind(node: Node | null): string {
  if (isNull(node)) return "nothing (null)";
  if (isMap(node)) return "a mapping";
  if (isSeq(node)) return "a list";
  if (!isScalar(node)) return "an unsupported YAML node";
  const v = node.value;
  if (typeof v === "string") return `the string ${show(v, false)}`;
  return `${typeof v} ${String(v)}`;
}

function article(kind: string): string {
  return kind === "integer" ? "an integer" : `a ${kind}`;
}

// Values that came from the environment are not echoed: they may be secrets put in the wrong place.
function show(v: unknown, fromEnv: boolean): string {
  if (fromEnv) return "a value from the environment";
  const text = typeof v === "string" ? JSON.stringify(v) : String(v);
  return text.length > 40 ? `${text.slice(0, 37)}..."` : text;
}
