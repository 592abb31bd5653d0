/**
 * CloudEvents 1.0 decoding and validation (JSON event format 1.0.2, Kafka protocol binding 1.0.2).
 * Structured and binary records are both turned into the JSON format's object shape and then validated by
 * the same function, so the two modes cannot drift apart.
 */
import { EnrichRejectCode as C, EventReject } from "./codes.ts";
import type { TextHeaders } from "./headers.ts";
import type { CloudEvent } from "./module-api.ts";
import { parseRfc3339, type EventTime } from "./rfc3339.ts";
import { jsonDeeperThan, MAX_JSON_DEPTH, stringRuleProblem } from "./sink-limits.ts";
import { uriProblem, uriReferenceProblem } from "./uri.ts";

/** A valid event, with what validation learned about it. */
export interface ValidEvent {
  event: CloudEvent;
  /** The parsed `time` attribute, or null when absent. */
  time: EventTime | null;
  /** Attributes stored in the `extensions` column, sorted: everything but specversion, id, source, type, subject, time and data. */
  extNames: string[];
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

const typeName = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** CloudEvents naming rule (spec 1.0.2, "Attribute Naming Convention"): lower-case a-z and 0-9 only. The
 * "SHOULD NOT exceed 20 characters" is a recommendation, so longer names are accepted. */
export function isValidAttributeName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57))) return false;
  }
  return true;
}

/** True for a media type whose subtype is `json` or ends in `+json` (JSON format 1.0.2, 3.1). */
export function isJsonContentType(contentType: string): boolean {
  if (contentType === "application/json") return true; // the usual value, without the copies below
  const semi = contentType.indexOf(";");
  const mediaType = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  const slash = mediaType.indexOf("/");
  if (slash <= 0) return false;
  const subtype = mediaType.slice(slash + 1);
  return subtype === "json" || subtype.endsWith("+json");
}

// RFC 2045 token characters: printable ASCII except SPACE and tspecials ()<>@,;:\"/[]?=
const TOKEN = new Uint8Array(128);
for (let c = 33; c < 127; c++) TOKEN[c] = 1;
for (const c of '()<>@,;:\\"/[]?=') TOKEN[c.charCodeAt(0)] = 0;

/** True when `s` starts with `type/subtype` (RFC 2046), optionally followed by `;` parameters. */
function isMediaType(s: string): boolean {
  let i = 0;
  const n = s.length;
  while (i < n && s.charCodeAt(i) < 128 && TOKEN[s.charCodeAt(i)]) i++;
  if (i === 0 || s.charCodeAt(i) !== 47) return false;
  const sub = ++i;
  while (i < n && s.charCodeAt(i) < 128 && TOKEN[s.charCodeAt(i)]) i++;
  if (i === sub) return false;
  while (i < n && s.charCodeAt(i) === 32) i++;
  return i === n || s.charCodeAt(i) === 59;
}

const B64 = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") B64[c.charCodeAt(0)] = 1;

/** Strict RFC 4648 base64 (standard alphabet, padded, no whitespace). */
export function isBase64(s: string): boolean {
  const n = s.length;
  if (n % 4 !== 0) return false;
  let end = n;
  if (end > 0 && s.charCodeAt(end - 1) === 61) end--;
  if (end > 0 && s.charCodeAt(end - 1) === 61) end--;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || !B64[c]) return false;
  }
  return true;
}

/** A String attribute value breaking the CloudEvents String rule (control characters, noncharacters, lone surrogates), or null. */
function stringValueProblem(name: string, v: string): EventReject | null {
  const p = stringRuleProblem(v);
  return p === null ? null : new EventReject(C.BadAttributeValue, `${name} ${p}`);
}

/** Problem with a required String attribute (non-empty, CloudEvents String rule). */
function requiredString(name: string, v: unknown): EventReject | null {
  if (v === undefined || v === null) return new EventReject(C.MissingAttribute, `required attribute ${name} is missing`);
  if (typeof v !== "string") return new EventReject(C.BadAttributeType, `${name} must be a string, got ${typeName(v)}`);
  if (v.length === 0) return new EventReject(C.BadAttributeValue, `${name} must be a non-empty string`);
  return stringValueProblem(name, v);
}

/** Problem with an extension attribute (name rule, then the type system: String, Boolean, 32-bit Integer). */
function extensionProblem(name: string, v: unknown): EventReject | null {
  if (!isValidAttributeName(name)) {
    return new EventReject(C.BadExtensionName, `attribute name ${JSON.stringify(name)} must consist of lower-case letters a-z and digits 0-9`);
  }
  if (typeof v === "string") return stringValueProblem(name, v);
  if (typeof v === "boolean") return null;
  if (typeof v === "number" && Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX) return null;
  return new EventReject(C.BadAttributeType, `${name} must be a string, boolean or 32-bit integer, got ${typeof v === "number" ? `number ${v}` : typeName(v)}`);
}

/**
 * Sorts attribute names in code-unit order (names are a-z0-9, so also the byte order of the extensions
 * column's keys). A few names, the usual case, go through an insertion sort (no comparator calls); more go
 * through Array sort, O(n log n): an insertion sort took 11.8 s for 80,000 names in descending order.
 */
function sortNames(a: string[]): void {
  if (a.length > 16) {
    a.sort();
    return;
  }
  for (let i = 1; i < a.length; i++) {
    const x = a[i];
    let j = i - 1;
    while (j >= 0 && a[j] > x) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = x;
  }
}

/**
 * Validates a CloudEvent in the JSON format's shape. Attributes whose value is null count as absent (JSON
 * format 2.2). Required attributes are checked in a fixed order (specversion, id, source, type) before any
 * other problem, so an event reports the same code whatever its key or header order.
 */
export function validateEvent(obj: Record<string, unknown>, maxAttributes = Infinity): ValidEvent | EventReject {
  let problem: EventReject | null = null;
  let attributes = 0;
  let time: EventTime | null = null;
  let hasData = false;
  let hasBase64 = false;
  const extNames: string[] = [];
  for (const k in obj) {
    // Checked first and in the loop: the rest of validation is then bounded by the cap, whatever the input.
    if (++attributes > maxAttributes) {
      return new EventReject(C.TooManyAttributes, `more than ${maxAttributes} attributes (maxAttributes); data members do not count`);
    }
    const v = obj[k];
    switch (k) {
      case "specversion":
      case "id":
      case "source":
      case "type":
        break;
      case "data":
        hasData = true;
        break;
      case "data_base64":
        if (v === null) break;
        hasBase64 = true;
        if (!problem && (typeof v !== "string" || !isBase64(v))) problem = new EventReject(C.BadData, "data_base64 must be a base64 string");
        break;
      case "time":
        if (v === null) break;
        if (typeof v !== "string") problem ??= new EventReject(C.BadAttributeType, `time must be a string, got ${typeName(v)}`);
        else {
          const t = parseRfc3339(v);
          if (typeof t === "string") problem ??= new EventReject(C.BadTime, `time ${JSON.stringify(v)} is not an RFC 3339 timestamp: ${t}`);
          else time = t;
        }
        break;
      case "subject":
        if (v === null || problem) break;
        if (typeof v !== "string") problem = new EventReject(C.BadAttributeType, `subject must be a string, got ${typeName(v)}`);
        else if (v.length === 0) problem = new EventReject(C.BadAttributeValue, "subject must be non-empty when present");
        else problem = stringValueProblem("subject", v);
        break;
      case "datacontenttype":
        if (v === null) break;
        extNames.push(k);
        if (problem) break;
        if (typeof v !== "string") problem = new EventReject(C.BadAttributeType, `datacontenttype must be a string, got ${typeName(v)}`);
        else if (!isMediaType(v) || stringRuleProblem(v) !== null) problem = new EventReject(C.BadAttributeValue, `datacontenttype ${JSON.stringify(v)} is not a type/subtype media type`);
        break;
      case "dataschema":
        if (v === null) break;
        extNames.push(k);
        if (problem) break;
        if (typeof v !== "string") problem = new EventReject(C.BadAttributeType, `dataschema must be a string, got ${typeName(v)}`);
        else {
          const p = uriProblem(v);
          if (p) problem = new EventReject(C.BadAttributeValue, `dataschema ${p}`);
        }
        break;
      default:
        if (v === null) break;
        extNames.push(k);
        problem ??= extensionProblem(k, v);
    }
  }
  const specversion = obj.specversion;
  if (specversion === undefined || specversion === null) return new EventReject(C.MissingAttribute, "required attribute specversion is missing");
  if (specversion !== "1.0") return new EventReject(C.BadSpecversion, `specversion is ${JSON.stringify(specversion)}; only "1.0" is supported`);
  const required = requiredString("id", obj.id) ?? requiredString("source", obj.source) ?? requiredString("type", obj.type);
  if (required) return required;
  const sourceProblem = uriReferenceProblem(obj.source as string);
  if (sourceProblem) return new EventReject(C.BadAttributeValue, `source ${sourceProblem}`);
  if (problem) return problem;
  if (hasData && hasBase64) return new EventReject(C.BadData, "data and data_base64 are mutually exclusive");
  if (extNames.length > 1) sortNames(extNames);
  return { event: obj as CloudEvent, time, extNames };
}

/** The rejection of data nested deeper than the sink takes. */
export const tooDeep = (): EventReject => new EventReject(C.DataTooDeep, `data nests deeper than ${MAX_JSON_DEPTH} levels`);

/** Parses a structured-mode value (the JSON event format) into an object, or says why it is not one. */
export function decodeStructured(value: Uint8Array): Record<string, unknown> | EventReject {
  let text: string;
  try {
    text = utf8.decode(value);
  } catch {
    return new EventReject(C.BadJson, "value is not valid UTF-8");
  }
  return decodeStructuredText(text);
}

/** decodeStructured of a value already decoded as UTF-8 (e.g. cut from a slice decoded as a whole, see thread.ts). */
export function decodeStructuredText(text: string): Record<string, unknown> | EventReject {
  // Before parsing: nesting the sink cannot store is refused without building it (and without a
  // stack overflow in JSON.stringify later). The event object itself is one level.
  if (jsonDeeperThan(text, MAX_JSON_DEPTH + 1)) return tooDeep();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return new EventReject(C.BadJson, `value is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return new EventReject(C.NotObject, `value is a JSON ${typeName(parsed)}, not an object`);
  }
  const obj = parsed as Record<string, unknown>;
  for (const k in obj) {
    if (k !== "data" && typeof obj[k] === "number") return integerTokenProblem(text, obj) ?? obj;
  }
  return obj;
}

/**
 * CloudEvents Integer rule for the JSON format: an Integer attribute is written without fraction or exponent.
 * JSON.parse turns `3.0` and `1e3` into integers, so the number tokens are read from the text (only for
 * events that have a numeric attribute, which are rare).
 */
function integerTokenProblem(text: string, obj: Record<string, unknown>): EventReject | null {
  const tokens = topLevelNumberTokens(text);
  for (const [name, token] of tokens) {
    // Non-integral values, and numbers where a string belongs, are reported by the type check, with the value.
    if (STRING_ONLY.has(name) || !Number.isInteger(obj[name])) continue;
    if (!/^-?(0|[1-9][0-9]*)$/.test(token)) {
      return new EventReject(C.BadAttributeType, `${name} is ${token}: a CloudEvents Integer has no fraction or exponent`);
    }
  }
  return null;
}

/** Members that are never Integers (context attributes of type String, and the data). */
const STRING_ONLY: ReadonlySet<string> = new Set(["specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema", "data", "data_base64"]);

const isJsonSpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13;

/** Index just past the JSON string starting at i (text is valid JSON). */
function jsonStringEnd(text: string, i: number): number {
  for (i++; ; i++) {
    const c = text.charCodeAt(i);
    if (c === 92) i++;
    else if (c === 34) return i + 1;
  }
}

/** Index just past the JSON value starting at i (text is valid JSON). */
function jsonValueEnd(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === 34) return jsonStringEnd(text, i);
  if (c === 123 || c === 91) {
    let depth = 0;
    for (; ; i++) {
      const d = text.charCodeAt(i);
      if (d === 34) i = jsonStringEnd(text, i) - 1;
      else if (d === 123 || d === 91) depth++;
      else if ((d === 125 || d === 93) && --depth === 0) return i + 1;
    }
  }
  while (i < text.length) {
    const d = text.charCodeAt(i);
    if (d === 44 || d === 125 || d === 93 || isJsonSpace(d)) break;
    i++;
  }
  return i;
}

/** The text of each top-level member whose value is a number (the last one wins, as in JSON.parse). */
function topLevelNumberTokens(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const skip = (i: number) => {
    while (isJsonSpace(text.charCodeAt(i))) i++;
    return i;
  };
  let i = skip(0) + 1; // past "{"
  for (;;) {
    i = skip(i);
    if (text.charCodeAt(i) !== 34) break; // "}"
    const keyEnd = jsonStringEnd(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skip(skip(keyEnd) + 1); // past ":"
    const end = jsonValueEnd(text, i);
    const c = text.charCodeAt(i);
    if (c === 45 || (c >= 48 && c <= 57)) out.set(key, text.slice(i, end));
    i = skip(end);
    if (text.charCodeAt(i) === 44) i++;
  }
  return out;
}

/**
 * True when `s` from index `at` starts with `lower` (lowercase ASCII) in any letter case. Header names and
 * media types are read for every binary-mode event: this makes no lowered copy. For these ASCII targets it
 * agrees with toLowerCase(), whose only other mappings onto ASCII letters (U+212A to "k", U+0130 to "i" plus
 * a combining dot) either hit no letter of the targets or change the length.
 */
function startsWithIgnoringCase(s: string, at: number, lower: string): boolean {
  if (s.length - at < lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    let c = s.charCodeAt(at + i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** True for the header name `content-type` in any letter case. */
const isContentTypeName = (name: string): boolean => name.length === 12 && startsWithIgnoringCase(name, 0, "content-type");

/** True for a media type of the CloudEvents structured mode (`application/cloudevents`, any format). */
function isCloudEventsMediaType(contentType: string): boolean {
  let at = 0;
  for (let c = contentType.charCodeAt(0); c === 32 || (c >= 9 && c <= 13); c = contentType.charCodeAt(++at));
  // trimStart also skips Unicode spaces: the rare value that starts with one takes the copying path.
  if (contentType.charCodeAt(at) > 0x7f) return contentType.trimStart().slice(0, 23).toLowerCase() === "application/cloudevents";
  return startsWithIgnoringCase(contentType, at, "application/cloudevents");
}

/**
 * True when the record is in binary content mode. The Kafka protocol binding (1.0.2, 3) lets the content-type
 * decide: `application/cloudevents...` is structured mode, even when `ce_` headers are present too. Otherwise
 * a `ce_specversion` header means binary mode; a record with neither is read as structured mode, so plain JSON
 * producers that set no content-type keep working (its JSON must then carry specversion itself).
 */
export function isBinaryMode(headers: TextHeaders | null): boolean {
  if (headers === null) return false;
  let specversion = false;
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i];
    if (name === "ce_specversion") specversion = true;
    else if (typeof value === "string" && isContentTypeName(name) && isCloudEventsMediaType(value)) return false;
  }
  return specversion;
}

/**
 * Why a structured-mode record's event format is not one this stage reads, or null. Only the JSON format is
 * supported; batch mode (`application/cloudevents-batch`) is not defined by the Kafka binding.
 */
export function structuredFormatProblem(headers: TextHeaders | null): EventReject | null {
  if (headers === null) return null;
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i];
    if (typeof value !== "string" || !isContentTypeName(name) || !isCloudEventsMediaType(value)) continue;
    const semi = value.indexOf(";");
    const mediaType = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
    if (mediaType !== "application/cloudevents+json") {
      return new EventReject(C.UnsupportedFormat, `content-type ${JSON.stringify(value)}: only the JSON event format (application/cloudevents+json) is supported`);
    }
  }
  return null;
}

/**
 * Builds the JSON-format object of a binary-mode record (Kafka binding 3.2): every `ce_<name>` header is the
 * attribute `<name>` (UTF-8 text; the last of repeated headers wins, like duplicate JSON keys), `content-type`
 * is `datacontenttype`, and the value is the data: parsed JSON when the content type is JSON, otherwise
 * `data_base64`. A null value is an event without data. Names are validated later, with the attributes.
 */
export function decodeBinary(headers: TextHeaders, value: Uint8Array | null): Record<string, unknown> | EventReject {
  const obj: Record<string, unknown> = {};
  let contentType: string | undefined;
  for (let i = 0; i < headers.length; i++) {
    const [name, text] = headers[i];
    const isAttribute = name.startsWith("ce_");
    if (!isAttribute && !isContentTypeName(name)) continue;
    if (text === null) continue;
    if (text === undefined) return new EventReject(C.BadAttributeValue, `header ${name} is not valid UTF-8`);
    if (!isAttribute) contentType = text;
    else {
      const attr = name.slice(3);
      if (attr === "data" || attr === "data_base64") {
        return new EventReject(C.BadExtensionName, `header ${name}: binary mode carries the data in the record value`);
      }
      obj[attr] = text;
    }
  }
  if (contentType !== undefined) obj.datacontenttype = contentType;
  if (value === null) return obj;
  if (contentType !== undefined && isJsonContentType(contentType)) {
    try {
      const text = utf8.decode(value);
      if (jsonDeeperThan(text, MAX_JSON_DEPTH)) return tooDeep();
      obj.data = JSON.parse(text);
    } catch (e) {
      return new EventReject(C.BadData, `value is not valid JSON although content-type is ${contentType}: ${(e as Error).message}`);
    }
  } else {
    obj.data_base64 = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64");
  }
  return obj;
}
