/**
 * JSON text for the `data` and `extensions` jsonb columns, built once per event in the thread.
 */
import type { CloudEvent } from "./module-api.ts";

/**
 * `data` as JSON text: the JSON value itself, `{"data_base64":"…"}` for binary data, null when the event
 * has no data (an explicit JSON null payload is the text "null"). Only the data subtree is stringified:
 * slicing it out of the original text would need a second JSON scanner to be safe (duplicate keys, escapes)
 * and the stringify of a ~150-byte object costs well under a microsecond. Throws when a user module put
 * something JSON cannot encode (a BigInt, a cycle) into `data`.
 */
export function dataJson(ev: CloudEvent): string | null {
  const b64 = ev.data_base64;
  // Base64 text has no characters that JSON escapes.
  if (typeof b64 === "string") return `{"data_base64":"${b64}"}`;
  if (ev.data === undefined) return null;
  return JSON.stringify(ev.data) ?? null;
}

/** The attributes named in `names` (valid attribute names: no escaping needed) as one JSON object text. */
export function extensionsJson(ev: CloudEvent, names: readonly string[]): string {
  if (names.length === 0) return "{}";
  let s = "{";
  for (let i = 0; i < names.length; i++) {
    const k = names[i];
    const v = ev[k];
    s += `${i === 0 ? "" : ","}"${k}":${typeof v === "string" ? jsonString(v) : String(v)}`;
  }
  return s + "}";
}

/**
 * JSON.stringify of a string, without the call for the usual attribute value: printable ASCII other than `"`
 * and `\` is written as it is (a char loop over a short value costs less than the native call).
 */
export function jsonString(v: string): string {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 34 || c === 92) return JSON.stringify(v);
  }
  return `"${v}"`;
}

/** Inserts `name` into a sorted list of names unless present. */
export function addSortedName(names: string[], name: string): void {
  // Binary search: an event may carry thousands of attributes.
  let lo = 0;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (names[mid] < name) lo = mid + 1;
    else hi = mid;
  }
  if (names[lo] !== name) names.splice(lo, 0, name);
}
