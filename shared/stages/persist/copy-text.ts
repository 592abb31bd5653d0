/**
 * PostgreSQL COPY text-format encoding. Pure so the enrich threads can build each event's COPY line
 * (the main thread only concatenates and sends bytes).
 */

/** Escapes one value for COPY text format; null becomes \N. */
export function copyField(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return "\\N";
  if (typeof v === "number") return String(v);
  // Fast path: most values need no escaping.
  if (!/[\\\t\n\r]/.test(v)) return v;
  return v.replace(/[\\\t\n\r]/g, (c) => (c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r"));
}

/** A COPY text field's value: the inverse of copyField / copyJsonField; `\N` is null. */
export function copyFieldValue(field: string): string | null {
  if (field === "\\N") return null;
  if (field.indexOf("\\") === -1) return field;
  return field.replace(/\\([\s\S])/g, (_, c: string) => (c === "t" ? "\t" : c === "n" ? "\n" : c === "r" ? "\r" : c));
}

/** One COPY text line (without the trailing newline). */
export function copyLine(values: ReadonlyArray<string | number | null | undefined>): string {
  let s = copyField(values[0]);
  for (let i = 1; i < values.length; i++) s += "\t" + copyField(values[i]);
  return s;
}

/**
 * Escapes JSON text (from JSON.stringify) for COPY text format. JSON text never holds a raw tab, newline or
 * carriage return (JSON writes them as \t, \n, \r), so only backslashes need doubling: one native scan
 * instead of copyField's character-class test over a long value. Null becomes \N.
 */
export function copyJsonField(json: string | null | undefined): string {
  if (json === null || json === undefined) return "\\N";
  return json.indexOf("\\") === -1 ? json : json.replaceAll("\\", "\\\\");
}
