/**
 * Poison records for a fault scenario: single events (or small records) an adversarial producer can send,
 * each with the outcome the rule promises — it lands exactly once, or it is dead-lettered with its stable
 * code — and the check of that outcome against the scenario's table and dead-letter topic.
 */
import { randomBytes } from "node:crypto";
import type { ConsumedMessage } from "../../../shared/kafka/index.ts";
import { DLQ_HEADERS, MAX_REASON_BYTES } from "../../../shared/runtime/engine/dead-letter.ts";
import { EnrichRejectCode as C } from "../../../shared/stages/enrich/codes.ts";
import { MAX_FRACTION_DIGITS } from "../../../shared/stages/enrich/rfc3339.ts";
import { MAX_JSON_DEPTH, MAX_KEY_BYTES } from "../../../shared/stages/enrich/sink-limits.ts";
import { headerText, rejectionOf } from "./dead-letters.ts";
import type { Scenario } from "./scenario.ts";
import type { ScenarioResult } from "./verdict.ts";

/** Header naming the case on every poison record (kept on its dead letter). */
export const POISON_CASE_HEADER = "fault-poison-case";

/** One record as Scenario.produceExtra takes it (an explicit partition keeps large records apart on the mock). */
export interface PoisonRecord {
  key: string;
  value: string | Uint8Array | null;
  headers?: Array<[string, string | Uint8Array]>;
  partition?: number;
}

/** What must become of a case: one row with this id, or one dead letter with this code (and no row). */
export type PoisonExpectation = { lands: string } | { code: string; id?: string };

/** One poison case. `check` adds case-specific checks of its dead letter. */
export interface PoisonCase {
  name: string;
  records: PoisonRecord[];
  expect: PoisonExpectation;
  check?: (deadLetter: ConsumedMessage) => string | null;
}

const DAY_MS = 86_400_000;

/** Options the cases depend on: they must match the scenario's topology. */
export interface PoisonOptions {
  maxEventBytes: number;
  /** Source partitions: records over ~500 kB get one each (the mock keeps 5 MiB per partition). */
  partitions: number;
  /** On a real broker (default max.message.bytes 1,000,012 on the dead-letter topic) a ~1 MB dead letter must come back as a reference. */
  realBroker: boolean;
}

/**
 * The cases of issue 13 for enrich, persist and the dead-letter path, plus the edges that must still land
 * (largest key, deepest data, finest time, largest event) and the strangest inputs (a spinning module, a
 * thread that exits).
 */
export function poisonCases(tag: string, o: PoisonOptions): PoisonCase[] {
  const now = new Date().toISOString();
  const ev = (name: string, fields: Record<string, unknown> = {}) =>
    JSON.stringify({ specversion: "1.0", id: `${tag}-${name}`, source: "/poison", type: "poison.case", time: now, data: { n: 1 }, ...fields });
  const rec = (name: string, value: string | Uint8Array | null, more: Partial<PoisonRecord> = {}): PoisonRecord => ({
    key: `${tag}-${name}`,
    value,
    ...more,
    headers: [[POISON_CASE_HEADER, name], ...(more.headers ?? [])],
  });
  const one = (name: string, value: string, expect: PoisonExpectation, more: Partial<PoisonRecord> = {}, check?: PoisonCase["check"]): PoisonCase => ({
    name,
    records: [rec(name, value, more)],
    expect,
    check,
  });
  const withToken = (name: string, token: string) => ev(name).replace(/}$/, `,"count":${token}}`);
  const nest = (name: string, depth: number) => ev(name, { data: "@" }).replace('"@"', "[".repeat(depth) + "]".repeat(depth));
  const big = (p: number) => ({ partition: p % o.partitions });
  const largestId = `${tag}-${randomBytes(MAX_KEY_BYTES).toString("base64")}`.slice(0, MAX_KEY_BYTES - "/poison".length);
  const padTo = (name: string, bytes: number) => {
    const shell = ev(name, { data: { pad: "" } });
    return ev(name, { data: { pad: "p".repeat(bytes - shell.length) } });
  };
  const reasonBounded = (m: ConsumedMessage) => (Buffer.byteLength(rejectionOf(m).reason ?? "") <= MAX_REASON_BYTES ? null : "reason header over MAX_REASON_BYTES");

  return [
    // Silent loss: ids differing only in lone surrogates must not collapse into one row.
    one("surrogate-d800", ev("x", { id: `${tag}-x\ud800` }), { code: C.BadAttributeValue }),
    one("surrogate-dbff", ev("x", { id: `${tag}-x\udbff` }), { code: C.BadAttributeValue }),
    one("replacement-char", ev("x", { id: `${tag}-x\ufffd` }), { lands: `${tag}-x\ufffd` }),
    // Crash loops, now dead-lettered by enrich before the database sees them.
    one("year-9999", ev("year-9999", { time: "9999-12-31T12:00:00Z" }), { code: C.TimeTooFarAhead }),
    one("year-0001", ev("year-0001", { time: "0001-01-01T00:00:00Z" }), { code: C.TimeTooOld }),
    one("nest-20000", nest("nest-20000", 20_000), { code: C.DataTooDeep }),
    one("nest-100000", nest("nest-100000", 100_000), { code: C.DataTooDeep }, big(4)),
    one("id-4000", ev("id-4000", { id: `${tag}-id-4000-${"x".repeat(4000)}` }), { code: C.KeyTooLarge, id: `${tag}-id-4000-${"x".repeat(4000)}` }),
    // Hangs: dead letters larger than the producer or the broker takes.
    one("record-1010000", `{"specversion":"1.0","id":"${tag}-record-1010000","data":"${"x".repeat(1_010_000 - 60)}`, { code: C.BadJson, id: `${tag}-record-1010000` }, big(1), (m) => {
      if (reasonBounded(m)) return reasonBounded(m);
      const size = m.value?.byteLength ?? 0;
      // Whole on the mock (it takes it); on a real broker its 1,000,012-byte default refuses it: a reference.
      const reference = headerText(m, DLQ_HEADERS.originalBytes) !== null;
      if (o.realBroker) return reference && size < 10_000 ? null : `dead letter of ${size} bytes on a real broker is not a reference`;
      return size >= 1_000_000 || reference ? null : `dead letter of ${size} bytes is neither whole nor a reference`;
    }),
    one("event-4mb", ev("event-4mb", { data: { blob: "x".repeat(4_000_000) } }), { code: C.TooLarge }, big(0), (m) => {
      const bytes = Number(headerText(m, DLQ_HEADERS.originalBytes));
      if (!(bytes > 4_000_000)) return `expected a reference with the original size, got ${headerText(m, DLQ_HEADERS.originalBytes)}`;
      if (!/^[0-9a-f]{64}$/.test(headerText(m, DLQ_HEADERS.originalSha256) ?? "")) return "reference without a SHA-256";
      return (m.value?.byteLength ?? 0) < 10_000 ? null : "the reference carries the value";
    }),
    // Quadratic time: 80,000 extension attributes in descending name order.
    one("attrs-80000", attrsDescending(ev("attrs-80000"), 80_000), { code: C.TooManyAttributes }, big(2)),
    // Mode detection: content-type decides, even with ce_ headers.
    one("structured-with-ce-headers", ev("structured-with-ce-headers"), { lands: `${tag}-structured-with-ce-headers` }, {
      headers: [["content-type", "application/cloudevents+json; charset=utf-8"], ["ce_specversion", "1.0"], ["ce_id", `${tag}-from-header`]],
    }),
    one("avro-format", ev("avro-format"), { code: C.UnsupportedFormat }, { headers: [["content-type", "application/cloudevents+avro"]] }),
    // String and Integer rules.
    one("control-char-type", ev("control-char-type", { type: "poison\u0007" }), { code: C.BadAttributeValue }),
    one("nul-id", ev("x", { id: `${tag}-nul\u0000` }), { code: C.BadAttributeValue }),
    one("noncharacter-subject", ev("noncharacter-subject", { subject: "s\ufffe" }), { code: C.BadAttributeValue }),
    one("surrogate-extension", ev("surrogate-extension", { region: "r\ud800" }), { code: C.BadAttributeValue }),
    one("integer-3.0", withToken("integer-3.0", "3.0"), { code: C.BadAttributeType }),
    one("integer-1e3", withToken("integer-1e3", "1e3"), { code: C.BadAttributeType }),
    one("time-200-digits", ev("time-200-digits", { time: `${now.slice(0, 19)}.${"1".repeat(200)}Z` }), { code: C.BadTime }),
    one("number-1e400", ev("number-1e400", { data: "@" }).replace('"@"', "[1e400]"), { code: C.BadData }),
    one("data-lone-surrogate", ev("data-lone-surrogate", { data: { s: "x\udc00" } }), { code: C.BadData }),
    // Edges that must land: largest key, deepest data, finest time, largest event.
    one("largest-key", ev("x", { id: largestId }), { lands: largestId }),
    one("deepest-data", nest("deepest-data", MAX_JSON_DEPTH), { lands: `${tag}-deepest-data` }),
    one("finest-time", ev("finest-time", { time: `${now.slice(0, 19)}.${"9".repeat(MAX_FRACTION_DIGITS)}Z` }), { lands: `${tag}-finest-time` }),
    one("largest-event", padTo("largest-event", o.maxEventBytes), { lands: `${tag}-largest-event` }, big(3)),
    // Strangest: a module that spins on the event, a module that exits its thread.
    one("module-spins", ev("module-spins", { type: "poison.spin" }), { code: C.Timeout }),
    one("module-exits", ev("module-exits", { type: "poison.exit" }), { code: C.UserModuleThrew }),
  ];
}

/** An event text with `n` extension attributes `a<k>` in descending name order (short names keep it under 1 MB). */
function attrsDescending(event: string, n: number): string {
  const parts: string[] = [];
  for (let k = n; k > 0; k--) parts.push(`"a${k.toString(36).padStart(4, "0")}":1`);
  return event.replace(/}$/, `,${parts.join(",")}}`);
}

/**
 * `count` events with distinct dates, one per day around today: only those inside the partition window
 * (`retentionDays` back, `aheadDays` ahead) may land; the rest are dead-lettered as too old / too far ahead.
 * Days within one day of the window's edges may go either way (the fleet's clock decides).
 */
export function manyDatesCase(tag: string, count: number, retentionDays: number, aheadDays: number): { records: PoisonRecord[]; expected: Array<"lands" | string | null> } {
  const today = Math.floor(Date.now() / DAY_MS);
  const first = today - Math.floor(count / 2);
  const records: PoisonRecord[] = [];
  const expected: Array<"lands" | string | null> = [];
  for (let k = 0; k < count; k++) {
    const day = first + k;
    const id = `${tag}-date-${k}`;
    const time = new Date(day * DAY_MS + 43_200_000).toISOString();
    records.push({ key: id, value: JSON.stringify({ specversion: "1.0", id, source: "/poison/dates", type: "poison.date", time }), headers: [[POISON_CASE_HEADER, "many-dates"]] });
    const oldest = today - retentionDays;
    const newest = today + aheadDays;
    expected.push(day > oldest && day < newest ? "lands" : day < oldest - 1 ? C.TimeTooOld : day > newest + 1 ? C.TimeTooFarAhead : null);
  }
  return { records, expected };
}

/** The dead letters of a run per poison case name. */
export function deadLettersByCase(r: ScenarioResult): Map<string, ConsumedMessage[]> {
  const out = new Map<string, ConsumedMessage[]>();
  for (const m of r.deadLetters) {
    const name = headerText(m, POISON_CASE_HEADER);
    if (name === null) continue;
    out.set(name, [...(out.get(name) ?? []), m]);
  }
  return out;
}

/** Every way the run broke the rule for the given cases (empty when each landed once or was dead-lettered with its code). */
export async function poisonProblems(s: Scenario, r: ScenarioResult, cases: readonly PoisonCase[]): Promise<string[]> {
  const byCase = deadLettersByCase(r);
  const problems: string[] = [];
  for (const c of cases) {
    const dls = byCase.get(c.name) ?? [];
    if ("lands" in c.expect) {
      const rows = await s.rowsWithId(c.expect.lands);
      if (rows !== 1) problems.push(`${c.name}: ${rows} rows, expected exactly 1`);
      if (dls.length) problems.push(`${c.name}: dead-lettered (${rejectionOf(dls[0]).code}: ${rejectionOf(dls[0]).reason}), expected to land`);
      continue;
    }
    if (dls.length !== 1) {
      problems.push(`${c.name}: ${dls.length} dead letters, expected 1 with ${c.expect.code}`);
      continue;
    }
    const why = rejectionOf(dls[0]);
    if (why.code !== c.expect.code || !why.reason) problems.push(`${c.name}: dead-lettered with ${why.code} (${why.reason}), expected ${c.expect.code}`);
    const extra = c.check?.(dls[0]);
    if (extra) problems.push(`${c.name}: ${extra}`);
    if (c.expect.id !== undefined && (await s.rowsWithId(c.expect.id)) !== 0) problems.push(`${c.name}: dead-lettered and also stored`);
  }
  return problems;
}
