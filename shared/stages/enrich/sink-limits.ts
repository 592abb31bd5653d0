/**
 * The limits of the sink, enforced in enrich so that an event that passes enrich cannot fail a persist batch.
 * Each limit is derived from the persist stage's managed schema (shared/stages/persist/columns.ts, schema.ts)
 * and PostgreSQL's own limits; docs/stages.md, "Limits enrich enforces", lists them with the same reasons.
 */

/**
 * Largest btree index tuple PostgreSQL accepts on 8 kB pages (BTMaxItemSize, btree version 4: "index row size
 * N exceeds btree version 4 maximum 2704", SQLSTATE 54000).
 */
export const BTREE_MAX_TUPLE_BYTES = 2704;

/**
 * Bytes of `source` + `id` (UTF-8) the primary key (time, source, id) can hold: the btree maximum less the
 * index tuple header (8), two 4-byte varlena headers, the timestamptz (8) and worst-case alignment padding
 * (3 before the second text, 7 for the tuple's final alignment; the same 7 sat before the timestamptz when it
 * came last). Compressible values could be longer (PostgreSQL compresses wide index values), but the rule must
 * not depend on the content.
 */
export const MAX_KEY_BYTES = BTREE_MAX_TUPLE_BYTES - 8 - 4 - 4 - 8 - 3 - 7;

/** Bytes of the tenant the (tenant, time) index can hold: the same arithmetic with one text column. */
export const MAX_TENANT_BYTES = BTREE_MAX_TUPLE_BYTES - 8 - 4 - 8 - 7;

/**
 * Deepest JSON nesting accepted in `data`. PostgreSQL parses jsonb recursively and stops at `max_stack_depth`
 * (SQLSTATE 54001); with the default 2 MB it takes about 12,000 levels, with the 100 kB minimum far fewer.
 * 1,000 is deep for any real payload and leaves room for a smaller stack.
 */
export const MAX_JSON_DEPTH = 1000;

/**
 * CloudEvents 1.0.2 String rule: no control characters (U+0000-U+001F, U+007F-U+009F), no noncharacters, no
 * lone surrogates. In a `u` regex a lone surrogate is its own code point, so [\uD800-\uDFFF] matches only
 * the unpaired ones. Lone surrogates also matter to the sink: UTF-8 cannot encode them, the driver writes
 * U+FFFD instead, and distinct ids would collapse into one row.
 */
const BAD_STRING_CHAR =
  /[\u0000-\u001F\u007F-\u009F\uD800-\uDFFF\uFDD0-\uFDEF\uFFFE\uFFFF\u{1FFFE}\u{1FFFF}\u{2FFFE}\u{2FFFF}\u{3FFFE}\u{3FFFF}\u{4FFFE}\u{4FFFF}\u{5FFFE}\u{5FFFF}\u{6FFFE}\u{6FFFF}\u{7FFFE}\u{7FFFF}\u{8FFFE}\u{8FFFF}\u{9FFFE}\u{9FFFF}\u{AFFFE}\u{AFFFF}\u{BFFFE}\u{BFFFF}\u{CFFFE}\u{CFFFF}\u{DFFFE}\u{DFFFF}\u{EFFFE}\u{EFFFF}\u{FFFFE}\u{FFFFF}\u{10FFFE}\u{10FFFF}]/u;

const hex = (c: number): string => "U+" + c.toString(16).toUpperCase().padStart(4, "0");

/** Why `s` breaks the CloudEvents String rule (the first offending character), or null. */
export function stringRuleProblem(s: string): string | null {
  // Printable ASCII (the usual attribute) cannot break the rule: a char loop is cheaper than the `u` regex.
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) break;
    i++;
  }
  if (i === s.length) return null;
  const m = BAD_STRING_CHAR.exec(s);
  if (m === null) return null;
  const c = m[0].codePointAt(0)!;
  const what = c < 0xa0 ? "a control character" : c >= 0xd800 && c <= 0xdfff ? "a lone surrogate" : "a Unicode noncharacter";
  return `contains ${what} (${hex(c)}) at index ${m.index}`;
}

/** UTF-8 byte length of a string without encoding it. */
export function utf8Length(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

/**
 * True when an escape `\u<XXXX>` at `at` in JSON text is real (preceded by an even number of backslashes),
 * not the text "\\u…" of an escaped backslash.
 */
function isRealEscape(json: string, at: number): boolean {
  let slashes = 0;
  for (let j = at - 1; j >= 0 && json.charCodeAt(j) === 92; j--) slashes++;
  return slashes % 2 === 0;
}

/**
 * True when JSON text from JSON.stringify holds a lone surrogate. JSON.stringify writes unpaired surrogates
 * as `\ud800`-style escapes (and paired ones as the characters themselves), and PostgreSQL's jsonb input
 * rejects such an escape (SQLSTATE 22P02 "Unicode low surrogate must follow a high surrogate").
 */
export function hasEscapedLoneSurrogate(json: string): boolean {
  let at = json.indexOf("\\ud");
  while (at !== -1) {
    const c = json.charCodeAt(at + 3);
    // d8..df: 8, 9, a-f (JSON.stringify writes lower-case hex).
    if (((c >= 56 && c <= 57) || (c >= 97 && c <= 102)) && isRealEscape(json, at)) return true;
    at = json.indexOf("\\ud", at + 1);
  }
  return false;
}

/** True when JSON text holds an escaped U+0000, which PostgreSQL jsonb cannot store (SQLSTATE 22P05). */
export function hasEscapedNul(json: string): boolean {
  let at = json.indexOf("\\u0000");
  while (at !== -1) {
    if (isRealEscape(json, at)) return true;
    at = json.indexOf("\\u0000", at + 1);
  }
  return false;
}

/**
 * True when JSON text nests arrays and objects deeper than `max`. One pass, skipping strings; texts shorter
 * than `max` cannot nest that deep (each level needs a bracket), which skips the scan for usual payloads.
 */
export function jsonDeeperThan(json: string, max: number): boolean {
  if (json.length <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

/**
 * True when JSON text from JSON.stringify of `data` lost a number: JSON.parse turns a number beyond a double's
 * range (`1e400`) into Infinity, which JSON.stringify writes as `null`, silently changing what jsonb (which
 * would take the number) stores. The text test is a native scan; the walk runs only for data with a null.
 */
export function lostNonFiniteNumber(json: string, data: unknown): boolean {
  return json.includes("null") && hasNonFinite(data);
}

function hasNonFinite(v: unknown): boolean {
  if (typeof v === "number") return !Number.isFinite(v);
  if (typeof v !== "object" || v === null) return false;
  for (const k in v as Record<string, unknown>) if (hasNonFinite((v as Record<string, unknown>)[k])) return true;
  return false;
}
