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
    s += `${i === 0 ? "" : ","}"${k}":${typeof v === "string" ? JSON.stringify(v) : String(v)}`;
  }
  return s + "}";
}

/**
 * True when JSON text holds an escaped U+0000 ("\u0000" preceded by an even number of backslashes), which
 * PostgreSQL jsonb rejects. Checked here so the event is dead-lettered with a clear reason instead of failing
 * a COPY and costing the persist stage a bisection.
 */
export function hasEscapedNul(json: string): boolean {
  let at = json.indexOf("\\u0000");
  while (at !== -1) {
    let slashes = 0;
    for (let j = at - 1; j >= 0 && json.charCodeAt(j) === 92; j--) slashes++;
    if (slashes % 2 === 0) return true;
    at = json.indexOf("\\u0000", at + 1);
  }
  return false;
}

/** Inserts `name` into a sorted list of names unless present. */
export function addSortedName(names: string[], name: string): void {
  let i = 0;
  while (i < names.length && names[i] < name) i++;
  if (names[i] !== name) names.splice(i, 0, name);
}
