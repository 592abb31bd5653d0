/**
 * The enrich work of one thread: every per-event CPU step (decode, validate, lookups, user module, event
 * time, tenant, JSON columns, dedupe key and Bloom probes, COPY line) happens here so the main thread only
 * does I/O. Pure apart from the user module: it can be driven directly (benchmarks) or through piscina.
 */
import { isAscii } from "node:buffer";
import { writeProbes } from "../dedupe/bloom-math.ts";
import { copyField, copyJsonField } from "../persist/copy-text.ts";
import { decodeBinary, decodeStructured, decodeStructuredText, isBinaryMode, structuredFormatProblem, tooDeep, validateEvent, type ValidEvent } from "./cloudevent.ts";
import { EnrichRejectCode as C, EventReject } from "./codes.ts";
import { decodeLookupTables, type LookupTables } from "./lookup-codec.ts";
import type { CloudEvent, EnrichModuleContext, EventRecordMeta } from "./module-api.ts";
import type { ColumnSource, EnrichPlan } from "./plan.ts";
import { unpackTextHeaders, type TextHeaders } from "./headers.ts";
import { CopyLinesBuilder } from "./copy-bytes.ts";
import { COPY_FIELD_COLUMNS, packStrings, STRING_COLUMNS, transferResult, type EnrichSliceOk, type EnrichSliceResult, type EnrichTask, type LookupShare, type StringColumn } from "./protocol.ts";
import { timeFromEpochMs, type EventTime } from "./rfc3339.ts";
import { addSortedName, dataJson, extensionsJson } from "./row.ts";
import { eventJson } from "../event-json.ts";
import { hasEscapedLoneSurrogate, hasEscapedNul, jsonDeeperThan, lostNonFiniteNumber, MAX_JSON_DEPTH, MAX_KEY_BYTES, MAX_TENANT_BYTES, utf8Length } from "./sink-limits.ts";
import { tenantFromSource } from "./uri.ts";
import { loadEnrichModule, runEnrichModule, type EnrichModule } from "./user-module.ts";

const COLUMN_CODE: Record<ColumnSource, number> = {
  id: 0, source: 1, type: 2, subject: 3, time: 4, tenant: 5, data: 6, extensions: 7, ingested_at: 8, kafka_partition: 9, kafka_offset: 10,
};

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

const asciiDecoder = new TextDecoder();

/**
 * The slice's values as one string when every byte is ASCII (the usual case), else null. One native decode
 * per slice instead of a view and a decode per event; ASCII is valid UTF-8 and byte offsets are character
 * offsets, so record i's text is a slice of it. Other slices decode record by record, as UTF-8 (fatal).
 */
function asciiValues(values: Uint8Array): string | null {
  return isAscii(values) ? asciiDecoder.decode(values) : null;
}

/** Result of a task that processes nothing (warm-up, empty slice). */
function emptySlice(): EnrichSliceOk {
  const strings = {} as EnrichSliceOk["strings"];
  for (const c of STRING_COLUMNS) strings[c] = { text: "", lengths: new Int32Array(0) };
  return { ok: true, strings, time: new Float64Array(0), probes: new Uint32Array(0), copy: null, rejections: [], warnings: [] };
}

/** The string columns left in the COPY lines (protocol.ts COPY_FIELD_COLUMNS) with their line field, or undefined. */
function copyFieldsOf(plan: EnrichPlan): EnrichSliceOk["copyFields"] {
  const cols = plan.columns;
  if (!cols) return undefined;
  const out: NonNullable<EnrichSliceOk["copyFields"]> = {};
  for (const c of STRING_COLUMNS) {
    const from = COPY_FIELD_COLUMNS[c];
    const field = from === undefined ? -1 : cols.indexOf(from);
    if (field >= 0) out[c] = field;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Which sink limits (sink-limits.ts) apply: only those of the columns the persist stage writes. */
function sinkChecks(plan: EnrichPlan): { data: boolean; key: boolean; tenant: boolean } {
  const cols = plan.columns ?? [];
  return { data: cols.includes("data"), key: cols.includes("id") || cols.includes("source"), tenant: cols.includes("tenant") };
}

/**
 * Why `data` (as JSON text) cannot be stored in a jsonb column, or null. `slash`: where its first backslash is
 * (-1: none); both escapes jsonb refuses need one, so most payloads skip the two searches.
 */
function dataProblem(json: string, slash: number): EventReject | null {
  if (slash === -1) return jsonDeeperThan(json, MAX_JSON_DEPTH) ? tooDeep() : null;
  if (hasEscapedNul(json)) return new EventReject(C.BadData, "data contains U+0000, which PostgreSQL jsonb cannot store");
  if (hasEscapedLoneSurrogate(json)) return new EventReject(C.BadData, "data contains a lone surrogate (\\ud800-\\udfff unpaired), which PostgreSQL jsonb cannot store");
  if (jsonDeeperThan(json, MAX_JSON_DEPTH)) return tooDeep();
  return null;
}

/** Why source + id cannot be a key of the table's primary-key index, or null (ASCII fast path: no byte count). */
function keyProblem(source: string, id: string): EventReject | null {
  if ((source.length + id.length) * 3 <= MAX_KEY_BYTES) return null;
  const bytes = utf8Length(source) + utf8Length(id);
  if (bytes <= MAX_KEY_BYTES) return null;
  return new EventReject(C.KeyTooLarge, `source and id are ${bytes} bytes together; the primary-key index holds at most ${MAX_KEY_BYTES}`);
}

/**
 * Why an event time has no day partition to go to, or null. Only days from the oldest the retention keeps to
 * the partitions made ahead (plus a day of clock skew) get partitions: untrusted times cannot make the table
 * grow a partition per distinct date, and an event is never stored into a partition the next maintenance
 * pass drops.
 */
function windowProblem(t: EventTime, now: number, w: NonNullable<EnrichPlan["partitionWindow"]>): EventReject | null {
  const day = Math.floor(t.ms / DAY_MS);
  const today = Math.floor(now / DAY_MS);
  if (day < today - w.retentionDays) {
    return new EventReject(C.TimeTooOld, `time ${t.text} is older than the table's retention (${w.retentionDays} days): its day partition is dropped`);
  }
  if (day > today + w.aheadDays) {
    return new EventReject(C.TimeTooFarAhead, `time ${t.text} is more than ${w.aheadDays} days ahead: no day partition is made that far ahead`);
  }
  return null;
}

const DAY_MS = 86_400_000;

/**
 * copyField of a validated String attribute (id, source, type, subject): the CloudEvents String rule leaves
 * no control characters, so only a backslash can need escaping, and one native search rules it out.
 */
function copyAttribute(v: string): string {
  return v.indexOf("\\") === -1 ? v : copyField(v);
}

/** Why a tenant cannot be a key of the (tenant, time) index, or null. */
function tenantProblem(tenant: string | null): EventReject | null {
  if (tenant === null || tenant.length * 3 <= MAX_TENANT_BYTES) return null;
  const bytes = utf8Length(tenant);
  return bytes <= MAX_TENANT_BYTES ? null : new EventReject(C.KeyTooLarge, `tenant is ${bytes} bytes; the (tenant, time) index holds at most ${MAX_TENANT_BYTES}`);
}

/** The event's tenant: the `tenantid` extension, else (when configured) the source's first path segment. */
function tenantOf(ev: CloudEvent, plan: EnrichPlan): string | null {
  const tid = ev.tenantid;
  if (tid !== undefined && tid !== null && tid !== "") return String(tid);
  return plan.tenantFromSource ? tenantFromSource(ev.source) : null;
}

/** The per-thread enrich engine for one plan. */
export class EnrichThread {
  private tables: LookupTables = new Map();
  private tablesVersion = 0;
  private module: EnrichModule | null = null;
  private moduleLoading: Promise<EnrichModule> | null = null;
  private readonly columns: Int8Array | null;
  private readonly stride: number;
  private readonly copyFields: EnrichSliceOk["copyFields"];

  constructor(
    private readonly plan: EnrichPlan,
    private readonly threadId = 0,
  ) {
    this.columns = plan.columns ? Int8Array.from(plan.columns, (c) => COLUMN_CODE[c]) : null;
    this.copyFields = copyFieldsOf(plan);
    this.stride = plan.dedupe ? plan.dedupe.layout.k + 1 : 0;
  }

  /** Enriches one slice. Never throws: a whole-slice failure comes back as `{ok: false}` with an EnrichError code. */
  async run(task: EnrichTask): Promise<EnrichSliceResult> {
    if (this.plan.module && !this.module) {
      try {
        this.moduleLoading ??= loadEnrichModule(this.plan.module);
        this.module = await this.moduleLoading;
      } catch (e) {
        this.moduleLoading = null;
        return { ok: false, code: "ENRICH_MODULE_FAILED", message: errorText(e), retriable: false };
      }
    }
    if (task.warmUp || task.size === 0) return emptySlice();
    try {
      return transferResult(await this.enrich(task));
    } catch (e) {
      // Our own code failed on this input: a bug that a retry would repeat, so not retriable.
      return { ok: false, code: "ENRICH_POOL_FAILED", message: `enrich thread failed on a batch: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`, retriable: false };
    }
  }

  private syncTables(share: LookupShare | null): void {
    if (share && share.version !== this.tablesVersion) {
      this.tables = decodeLookupTables(share.buffer);
      this.tablesVersion = share.version;
    }
  }

  /**
   * Decode, validate and apply the lookups to record i of the task. Deterministic, so it can be re-run for a
   * fresh copy. `ascii`: the slice's values decoded as a whole when they are all ASCII (asciiValues), else null.
   */
  private prepare(task: EnrichTask, headers: Array<TextHeaders | null> | null, i: number, ascii: string | null): ValidEvent | EventReject {
    const start = task.valueStarts[i];
    const bytes = task.valueStarts[i + 1] - start;
    const isNull = task.valueNull[i] === 1;
    if (!isNull && bytes > this.plan.maxEventBytes) {
      return new EventReject(C.TooLarge, `value is ${bytes} bytes, more than maxEventBytes (${this.plan.maxEventBytes})`);
    }
    const h = headers === null ? null : headers[i];
    let obj: Record<string, unknown> | EventReject;
    if (isBinaryMode(h)) obj = decodeBinary(h!, isNull ? null : task.values.subarray(start, start + bytes));
    else if (isNull) return new EventReject(C.NullValue, "value is null; a structured-mode event needs its JSON in the value");
    else {
      obj = structuredFormatProblem(h) ??
        (ascii !== null ? decodeStructuredText(ascii.slice(start, start + bytes)) : decodeStructured(task.values.subarray(start, start + bytes)));
    }
    if (obj instanceof EventReject) return obj;
    const valid = validateEvent(obj, this.plan.maxAttributes);
    if (valid instanceof EventReject) return valid;
    const lookups = this.plan.lookups;
    for (let l = 0; l < lookups.length; l++) {
      const { name, key, into } = lookups[l];
      const k = valid.event[key];
      if (k === undefined || k === null) continue;
      const found = this.tables.get(name)?.get(String(k));
      if (found === undefined) continue;
      valid.event[into] = found;
      addSortedName(valid.extNames, into);
    }
    return valid;
  }

  private async enrich(task: EnrichTask): Promise<EnrichSliceOk> {
    const n = task.size;
    this.syncTables(task.lookups);
    const headers = task.headers ? unpackTextHeaders(task.headers, n) : null;
    const rejections: EnrichSliceOk["rejections"] = [];
    const warnings: string[] = [];
    const valid: Array<ValidEvent | null> = new Array(n).fill(null);
    const skip = task.skip;
    const ascii = asciiValues(task.values);
    for (let i = 0; i < n; i++) {
      if (skip !== null && skip[i] === 1) continue;
      const r = this.prepare(task, headers, i, ascii);
      if (r instanceof EventReject) rejections.push([i, r.code, r.reason]);
      else valid[i] = r;
    }
    if (this.module) await this.applyModule(task, headers, ascii, valid, rejections, warnings);
    return this.build(task, valid, rejections, warnings);
  }

  private async applyModule(
    task: EnrichTask,
    headers: Array<TextHeaders | null> | null,
    ascii: string | null,
    valid: Array<ValidEvent | null>,
    rejections: EnrichSliceOk["rejections"],
    warnings: string[],
  ): Promise<void> {
    const positions: number[] = [];
    const events: CloudEvent[] = [];
    for (let i = 0; i < valid.length; i++) {
      const v = valid[i];
      if (v !== null) {
        positions.push(i);
        events.push(v.event);
      }
    }
    const records: EventRecordMeta[] = positions.map((i) => ({
      topic: task.topics[task.topicIndex[i]],
      partition: task.partitions[i],
      offset: task.offsets[i],
      timestamp: task.timestamps[i],
    }));
    const lookup = (table: string, key: string) => this.tables.get(table)?.get(key);
    const ctxFor = (ks: number[] | null): EnrichModuleContext => ({
      stage: this.plan.stage,
      workerId: this.plan.workerId,
      threadId: this.threadId,
      records: ks === null ? records : ks.map((k) => records[k]),
      lookup,
    });
    // prepare() is deterministic and these events were valid, so a re-run yields a fresh valid copy.
    const fresh = (k: number) => (this.prepare(task, headers, positions[k], ascii) as ValidEvent).event;
    const { outcomes, batchFailure } = await runEnrichModule(this.module!, events, ctxFor, fresh);
    if (batchFailure) warnings.push(`enrich module batch call ${batchFailure}; its ${events.length} events were run one by one`);
    for (let k = 0; k < positions.length; k++) {
      const i = positions[k];
      const o = outcomes[k];
      if (o instanceof EventReject) {
        valid[i] = null;
        rejections.push([i, o.code, o.reason]);
        continue;
      }
      let again: ValidEvent | EventReject;
      try {
        again = validateEvent(o as Record<string, unknown>, this.plan.maxAttributes);
      } catch (e) {
        // A returned object whose properties throw when read (a getter, a revoked proxy) is still that event's fault.
        again = new EventReject(C.UserModuleThrew, `reading the returned event threw: ${errorText(e)}`);
      }
      if (again instanceof EventReject) {
        valid[i] = null;
        rejections.push([i, again.code, `after the enrich module: ${again.reason}`]);
      } else valid[i] = again;
    }
  }

  /** Event time, tenant, JSON columns, dedupe key, probes and COPY line of every valid event. */
  private build(task: EnrichTask, valid: Array<ValidEvent | null>, rejections: EnrichSliceOk["rejections"], warnings: string[]): EnrichSliceOk {
    const n = task.size;
    const plan = this.plan;
    const cols = {} as Record<StringColumn, Array<string | null>>;
    for (const c of STRING_COLUMNS) cols[c] = new Array(n);
    const { id, source, type, subject, timeText, tenant, data, extensions, dedupeKey } = cols;
    const time = new Float64Array(n);
    const stride = task.probes === false ? 0 : this.stride;
    const probes = new Uint32Array(n * stride);
    const ingest = timeFromEpochMs(task.ingestedAt)!;
    const eventTime: Array<EventTime | null> = new Array(n).fill(null);
    const columns = this.columns;
    const copyText = columns !== null ? new CopyLinesBuilder(n) : null;
    const jsonText = plan.json ? new CopyLinesBuilder(n) : null;
    const row: Array<string | number> = new Array(columns?.length ?? 0);
    const sink = sinkChecks(plan);
    const keyFields = plan.dedupe?.keyFields;
    const layout = plan.dedupe?.layout;

    for (let i = 0; i < n; i++) {
      const v = valid[i];
      let dataText: string | null = null;
      let dataSlash = -1;
      let ten: string | null = null;
      if (v !== null) {
        let problem: EventReject | null = null;
        try {
          dataText = dataJson(v.event);
          if (dataText !== null) dataSlash = dataText.indexOf("\\");
          if (dataText !== null && sink.data) problem = dataProblem(dataText, dataSlash);
          if (problem === null && dataText !== null && lostNonFiniteNumber(dataText, v.event.data)) {
            problem = new EventReject(C.BadData, "data holds a number beyond the range of a double (it would be stored as null)");
          }
        } catch (e) {
          problem = new EventReject(C.BadData, `data cannot be encoded as JSON: ${errorText(e)}`);
        }
        problem ??= sink.key ? keyProblem(v.event.source, v.event.id) : null;
        ten = tenantOf(v.event, plan);
        problem ??= sink.tenant ? tenantProblem(ten) : null;
        let t: EventTime | null = v.time;
        if (t === null) {
          // Kafka's timestamp is part of the record, so a replayed event gets the same time (and primary key).
          const ts = task.timestamps[i];
          t = (ts >= 0 ? timeFromEpochMs(ts) : null) ?? ingest;
        }
        eventTime[i] = t;
        problem ??= plan.partitionWindow ? windowProblem(t, task.ingestedAt, plan.partitionWindow) : null;
        if (problem !== null) {
          rejections.push([i, problem.code, problem.reason]);
          valid[i] = null;
        }
      }
      if (valid[i] === null) {
        id[i] = source[i] = type[i] = subject[i] = timeText[i] = tenant[i] = data[i] = extensions[i] = dedupeKey[i] = "";
        copyText?.add("");
        jsonText?.add("");
        time[i] = NaN;
        continue;
      }
      const ev = v!.event;
      const t = eventTime[i]!;
      if (plan.ingestedAtExtension) {
        ev.ingestedat = ingest.text;
        addSortedName(v!.extNames, "ingestedat");
      }
      const ext = extensionsJson(ev, v!.extNames);
      const sub = (ev.subject as string | undefined) ?? null;

      id[i] = ev.id;
      source[i] = ev.source;
      type[i] = ev.type;
      subject[i] = sub;
      time[i] = t.ms;
      timeText[i] = t.text;
      tenant[i] = ten;
      data[i] = dataText;
      extensions[i] = ext;

      if (keyFields !== undefined) {
        let key = "";
        for (let f = 0; f < keyFields.length; f++) {
          const name = keyFields[f];
          // "time" means the effective event time, the same instant the primary key uses.
          const part = name === "time" ? t.text : ev[name];
          if (f > 0) key += "\u0000";
          if (part !== undefined && part !== null) key += String(part);
        }
        dedupeKey[i] = key;
        if (stride > 0) writeProbes(key, layout!, probes, i * stride);
      } else dedupeKey[i] = "";

      if (jsonText !== null) jsonText.add(eventJson({ id: ev.id, source: ev.source, type: ev.type, subject: sub, timeText: t.text, data: dataText, extensions: ext }));

      if (columns !== null && copyText !== null) {
        // The COPY line, escaping only what can need it: times are our own RFC 3339 text and numbers are
        // digits; JSON columns can only hold backslashes (copyJsonField); the rest is arbitrary text. One
        // join per line: about twice as fast to encode later as a line built with += (a rope of ~20 pieces).
        for (let c = 0; c < columns.length; c++) {
          switch (columns[c]) {
            case 0: row[c] = copyAttribute(ev.id); break;
            case 1: row[c] = copyAttribute(ev.source); break;
            case 2: row[c] = copyAttribute(ev.type); break;
            case 3: row[c] = sub === null ? "\\N" : copyAttribute(sub); break;
            case 4: row[c] = t.text; break;
            case 5: row[c] = copyField(ten); break;
            // copyJsonField, with the backslash search already done.
            case 6: row[c] = dataText === null ? "\\N" : dataSlash === -1 ? dataText : dataText.replaceAll("\\", "\\\\"); break;
            case 7: row[c] = copyJsonField(ext); break;
            case 8: row[c] = ingest.text; break;
            case 9: row[c] = task.partitions[i]; break;
            default: row[c] = task.offsets[i];
          }
        }
        copyText.add(row.join("\t"));
      }
    }

    const strings: EnrichSliceOk["strings"] = {};
    const copyFields = this.copyFields;
    for (const c of STRING_COLUMNS) if (copyFields?.[c] === undefined) strings[c] = packStrings(cols[c]);
    const out: EnrichSliceOk = { ok: true, strings, time, probes, copy: copyText?.finish() ?? null, json: jsonText?.finish() ?? null, rejections, warnings };
    if (copyFields) out.copyFields = copyFields;
    return out;
  }
}
