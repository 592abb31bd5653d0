/**
 * CloudEvents 1.0 records for load tests: valid events (structured JSON or binary mode), exact duplicates of
 * earlier valid events (what a producer retry looks like on the wire), and invalid events of known kinds.
 *
 * Ids are `<runId>-<n>` with n counting unique valid events from 0, so the set of ids a run produced is
 * implied by (runId, count) and a manifest stays a few hundred bytes for any volume. Invalid events use
 * `<runId>-x<n>`, outside that set, and carry two `loadgen-*` headers so the audit can match their
 * dead-letter copies to the kind that was injected.
 */
import { EnrichRejectCode } from "../stages/enrich/codes.ts";
import { LoadgenError } from "./errors.ts";
import { createRng, newRunId, randomSeed, type Rng } from "./random.ts";

/** How the Kafka record key is chosen: the tenant (per-tenant order), the event id, or none (spread). */
export type KeyMode = "tenant" | "id" | "none";
/** Every key mode, for flag validation. */
export const KEY_MODES: readonly KeyMode[] = ["tenant", "id", "none"];

/** The ways an injected invalid event is broken, in rotation order. */
export type InvalidKind = "malformed_json" | "missing_attribute" | "bad_time" | "wrong_specversion";
/** Every invalid kind, in the order the factory rotates through them. */
export const INVALID_KINDS: readonly InvalidKind[] = ["malformed_json", "missing_attribute", "bad_time", "wrong_specversion"];

/** The enrich stage's rejection code expected for each invalid kind (`topofleet-error-code` on the DLQ copy). */
export const EXPECTED_REJECTION_CODE: Readonly<Record<InvalidKind, string>> = {
  malformed_json: EnrichRejectCode.BadJson,
  missing_attribute: EnrichRejectCode.MissingAttribute,
  bad_time: EnrichRejectCode.BadTime,
  wrong_specversion: EnrichRejectCode.BadSpecversion,
};

/** Header naming the run on every invalid event (so a shared DLQ can be filtered by run). */
export const HEADER_RUN = "loadgen-run";
/** Header naming the invalid kind on every invalid event. */
export const HEADER_INVALID = "loadgen-invalid";

export type RecordKind = "valid" | "duplicate" | "invalid";

/** One record ready for Producer.sendBatch (plus what the generator knows about it). */
export interface GeneratedRecord {
  key: string | null;
  /** The Kafka value. A duplicate shares the original's string, so its bytes are identical. */
  value: string;
  /** Undefined for structured-mode valid events (the common case: no header cost). */
  headers: Array<[string, string]> | undefined;
  kind: RecordKind;
  invalidKind?: InvalidKind;
  /** CloudEvents id; null when the invalid kind removed it. */
  id: string | null;
  source: string | null;
  tenant: string;
  /** Valid and duplicate: n of `<runId>-<n>`; invalid: n of `<runId>-x<n>`. */
  seq: number;
  binary: boolean;
}

export interface EventFactoryOptions {
  tenants: number;
  /** Approximate size of the `data` JSON of valid events, in bytes. */
  payloadBytes: number;
  duplicateRatio: number; // share of all records, 0..1
  invalidRatio: number; // share of all records, 0..1
  binaryRatio: number; // share of valid events in binary mode, 0..1
  seed?: number;
  runId?: string;
  key?: KeyMode;
  /** Clock for the `time` attribute (epoch ms); tests inject a fixed one. */
  now?: () => number;
}

/** Counts of records generated so far. */
export interface FactoryCounts {
  records: number;
  unique: number; // == next valid seq
  duplicates: number;
  invalid: number;
  invalidByKind: Record<InvalidKind, number>;
  binary: number; // valid + duplicate records in binary mode
}

/** A deterministic stream of records (for a given seed and clock). */
export interface EventFactory {
  readonly runId: string;
  readonly seed: number;
  next(): GeneratedRecord;
  counts(): FactoryCounts;
}

const TYPES = ["com.topofleet.order.created", "com.topofleet.order.paid", "com.topofleet.order.shipped"];
const PAD_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
/** How far back a duplicate may reach: a producer retry resends something recent. */
const DUPLICATE_WINDOW = 4096;

/** Throws LoadgenError LOADGEN_CONFIG unless every option is in range. */
export function validateFactoryOptions(o: EventFactoryOptions): void {
  const bad: string[] = [];
  const ratio = (name: string, v: number) => {
    if (!(v >= 0 && v <= 1)) bad.push(`${name} must be in [0, 1], got ${v}`);
  };
  ratio("duplicateRatio", o.duplicateRatio);
  ratio("invalidRatio", o.invalidRatio);
  ratio("binaryRatio", o.binaryRatio);
  if (o.duplicateRatio + o.invalidRatio >= 1) bad.push("duplicateRatio + invalidRatio must be < 1");
  if (!(Number.isInteger(o.tenants) && o.tenants >= 1)) bad.push(`tenants must be an integer >= 1, got ${o.tenants}`);
  if (!(Number.isInteger(o.payloadBytes) && o.payloadBytes >= 0)) bad.push(`payloadBytes must be an integer >= 0, got ${o.payloadBytes}`);
  if (o.key !== undefined && !KEY_MODES.includes(o.key)) bad.push(`key must be one of ${KEY_MODES.join("|")}, got ${o.key}`);
  if (o.runId !== undefined && !/^[a-z0-9]+$/i.test(o.runId)) bad.push(`runId must be alphanumeric, got ${o.runId}`);
  if (bad.length) throw new LoadgenError("LOADGEN_CONFIG", `invalid generator options: ${bad.join("; ")}`, { retriable: false });
}

/** Creates a CloudEvents record factory (see the module doc for ids, kinds and headers). */
export function createEventFactory(opts: EventFactoryOptions): EventFactory {
  validateFactoryOptions(opts);
  const seed = opts.seed ?? randomSeed();
  const runId = opts.runId ?? newRunId();
  const keyMode = opts.key ?? "tenant";
  const now = opts.now ?? Date.now;
  const rng = createRng(seed);
  const tenants = Array.from({ length: opts.tenants }, (_, i) => `t${String(i).padStart(3, "0")}`);
  const sources = tenants.map((t) => `/tenants/${t}/orders`);
  const pad = padPool(rng, opts.payloadBytes);
  const recent: GeneratedRecord[] = [];
  const counts: FactoryCounts = {
    records: 0,
    unique: 0,
    duplicates: 0,
    invalid: 0,
    invalidByKind: { malformed_json: 0, missing_attribute: 0, bad_time: 0, wrong_specversion: 0 },
    binary: 0,
  };
  let lastMs = -1;
  let lastTime = "";
  const timeText = (): string => {
    // Many events share a millisecond at high rates; toISOString is the costly part of a record.
    const ms = now();
    if (ms !== lastMs) {
      lastMs = ms;
      lastTime = new Date(ms).toISOString();
    }
    return lastTime;
  };
  const keyFor = (tenant: string, id: string): string | null =>
    keyMode === "tenant" ? tenant : keyMode === "id" ? id : null;

  const valid = (): GeneratedRecord => {
    const seq = counts.unique++;
    const ti = rng.int(tenants.length);
    const tenant = tenants[ti];
    const source = sources[ti];
    const id = `${runId}-${seq}`;
    const type = TYPES[rng.int(TYPES.length)];
    const time = timeText();
    const data = dataJson(seq, rng, pad, opts.payloadBytes);
    const binary = opts.binaryRatio > 0 && rng.next() < opts.binaryRatio;
    const rec: GeneratedRecord = binary
      ? {
          key: keyFor(tenant, id),
          value: data,
          headers: [
            ["ce_specversion", "1.0"],
            ["ce_id", id],
            ["ce_source", source],
            ["ce_type", type],
            ["ce_time", time],
            ["ce_subject", `order/${seq}`],
            ["ce_tenantid", tenant],
            ["content-type", "application/json"],
          ],
          kind: "valid",
          id,
          source,
          tenant,
          seq,
          binary,
        }
      : {
          key: keyFor(tenant, id),
          value: structured({ id, source, type, time, subject: `order/${seq}`, tenant, data }),
          headers: undefined,
          kind: "valid",
          id,
          source,
          tenant,
          seq,
          binary,
        };
    if (binary) counts.binary++;
    if (recent.length < DUPLICATE_WINDOW) recent.push(rec);
    else recent[rng.int(DUPLICATE_WINDOW)] = rec;
    return rec;
  };

  const duplicate = (): GeneratedRecord => {
    const orig = recent[rng.int(recent.length)];
    counts.duplicates++;
    if (orig.binary) counts.binary++;
    // Same key, same value string, same headers: byte for byte what a retried send puts on the wire.
    return { ...orig, kind: "duplicate" };
  };

  const invalid = (): GeneratedRecord => {
    const seq = counts.invalid++;
    const kind = INVALID_KINDS[seq % INVALID_KINDS.length];
    counts.invalidByKind[kind]++;
    const variant = Math.floor(seq / INVALID_KINDS.length);
    const ti = rng.int(tenants.length);
    const tenant = tenants[ti];
    const id = `${runId}-x${seq}`;
    const base = { id, source: sources[ti], type: TYPES[0], time: timeText(), subject: `order/x${seq}`, tenant, data: `{"n":${seq}}` };
    let value: string;
    let ceId: string | null = id;
    let source: string | null = base.source;
    switch (kind) {
      case "malformed_json":
        value = structured(base).slice(0, -7); // cut inside the data object: unterminated JSON
        break;
      case "missing_attribute": {
        const missing = (["id", "source", "type"] as const)[variant % 3];
        value = structured({ ...base, [missing]: null });
        if (missing === "id") ceId = null;
        if (missing === "source") source = null;
        break;
      }
      case "bad_time":
        value = structured({ ...base, time: ["yesterday", "2024-13-01T00:00:00Z", "2024-01-01T10:00:00"][variant % 3] });
        break;
      case "wrong_specversion":
        value = structured({ ...base }, ["0.3", "2.0"][variant % 2]);
        break;
    }
    return {
      key: keyFor(tenant, id),
      value,
      headers: [
        [HEADER_RUN, runId],
        [HEADER_INVALID, kind],
      ],
      kind: "invalid",
      invalidKind: kind,
      id: ceId,
      source,
      tenant,
      seq,
      binary: false,
    };
  };

  const dupCut = opts.duplicateRatio;
  const invalidCut = opts.duplicateRatio + opts.invalidRatio;
  return {
    runId,
    seed,
    next(): GeneratedRecord {
      counts.records++;
      const u = rng.next();
      if (u < dupCut && recent.length > 0) return duplicate();
      if (u >= dupCut && u < invalidCut) return invalid();
      return valid();
    },
    counts: () => ({ ...counts, invalidByKind: { ...counts.invalidByKind } }),
  };
}

interface StructuredParts {
  id: string | null;
  source: string | null;
  type: string | null;
  time: string;
  subject: string;
  tenant: string;
  data: string;
}

/** Structured-mode JSON text. Built by concatenation: every part is generated ASCII that needs no escaping. */
function structured(p: StructuredParts, specversion = "1.0"): string {
  let s = `{"specversion":"${specversion}"`;
  if (p.id !== null) s += `,"id":"${p.id}"`;
  if (p.source !== null) s += `,"source":"${p.source}"`;
  if (p.type !== null) s += `,"type":"${p.type}"`;
  return `${s},"time":"${p.time}","subject":"${p.subject}","tenantid":"${p.tenant}","datacontenttype":"application/json","data":${p.data}}`;
}

/** A pool of random padding characters; payloads slice it at random offsets instead of drawing per byte. */
function padPool(rng: Rng, payloadBytes: number): string {
  const n = 4096 + payloadBytes;
  let s = "";
  for (let i = 0; i < n; i++) s += PAD_ALPHABET[rng.int(PAD_ALPHABET.length)];
  return s;
}

/** The `data` object of a valid event, about `payloadBytes` of JSON. */
function dataJson(seq: number, rng: Rng, pad: string, payloadBytes: number): string {
  // Integer cents: the JSON text round-trips byte for byte through JSON.parse/stringify (a decimal would not).
  const head = `{"order":${seq},"cents":${rng.int(1_000_000)},"currency":"EUR","note":"`;
  const padLen = Math.max(0, payloadBytes - head.length - 2);
  const at = rng.int(pad.length - padLen + 1);
  return `${head}${pad.slice(at, at + padLen)}"}`;
}
