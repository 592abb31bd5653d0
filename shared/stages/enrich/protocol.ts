/**
 * Messages between the enrich stage (main thread) and its piscina threads.
 *
 * Inbound, a slice of a RecordBatch travels as views of the batch's values and record columns, which
 * packRecords puts in SharedArrayBuffers: the thread reads the main thread's one copy, nothing is copied or
 * transferred for it. Transferring the batch's own buffers instead would lose them when a thread dies mid-task
 * (the engine needs the original bytes to retry or dead-letter), and copying them cost ~1.1 µs per event on
 * the main thread. Threads never write to those views. Small per-slice arrays (rebased value starts, the skip
 * mask, header block starts) are fresh copies transferred (not cloned) to the thread. Headers stay in Kafka's
 * wire form (PackedHeaders): the thread decodes them (headers.ts), the main thread never does unless a dead
 * letter, the Kafka sink or tracing reads them.
 *
 * Outbound, each string column comes back as ONE string (the entries concatenated) plus an Int32Array of
 * entry lengths: measured on 5,000 events, that is ~0.9 µs/event end to end against ~1.4 µs for cloning
 * string arrays and ~1.7 µs for msgpackr pack + unpack, and the main thread's share is a substring per entry.
 * The COPY lines (the largest column) come back as UTF-8 bytes instead (copy-bytes.ts), and every typed array
 * of the result is transferred rather than cloned (`transferResult`).
 */
import Piscina from "piscina";
import type { EnrichErrorCode } from "../../errors/index.ts";
import type { CopyBytes } from "./copy-bytes.ts";
import type { RowColumn } from "../needs.ts";

/** The current lookup tables, shared with every thread without copying (see lookup-codec.ts). */
export interface LookupShare {
  version: number;
  buffer: SharedArrayBuffer;
}

/** One slice of a batch for one thread. Record k of the slice is record `start + k` of the batch. */
export interface EnrichTask {
  start: number;
  size: number;
  topics: string[];
  topicIndex: Uint16Array;
  partitions: Int32Array;
  offsets: Float64Array;
  timestamps: Float64Array;
  values: Uint8Array;
  /** size + 1 entries, rebased so the slice's first value starts at 0. */
  valueStarts: Uint32Array;
  valueNull: Uint8Array;
  /** Headers of the slice, or null when no record has any. */
  headers: PackedHeaders | null;
  /** 1 marks a record that is no longer Live (settled by an earlier stage): the thread skips it. Null: all Live. */
  skip: Uint8Array | null;
  /** Ingest time of the whole batch (epoch ms). */
  ingestedAt: number;
  lookups: LookupShare | null;
  /** False: no stage reads this batch's Bloom probes (RedisBloom hashes the keys itself), so none are hashed. */
  probes?: boolean;
  /** A warm-up task: load the user module and report, process nothing. */
  warmUp?: boolean;
}

/**
 * The Kafka headers of a slice in their wire form (kafka/wire-headers.ts): record k's block is
 * bytes[starts[k], starts[k + 1]), empty when it has none. `bytes` is a view of the batch's shared buffer.
 */
export interface PackedHeaders {
  bytes: Uint8Array;
  starts: Uint32Array;
}

/** String columns of EnrichedEvents, in the order they are packed (COPY lines travel as bytes, see copy-bytes.ts). */
export const STRING_COLUMNS = ["id", "source", "type", "subject", "timeText", "tenant", "data", "extensions", "dedupeKey"] as const;
export type StringColumn = (typeof STRING_COLUMNS)[number];

/** A string column as one string plus each entry's length in UTF-16 code units (-1 encodes null). */
export interface PackedStrings {
  text: string;
  lengths: Int32Array;
}

/**
 * The string columns that are also fields of the COPY line, with the line's column they are written to (the
 * value escaped for COPY text, copy-text.ts). When the plan's COPY lines hold one, the thread does not pack
 * it: the main thread decodes it from the COPY bytes if and when a stage reads it (copy-bytes.ts
 * copyFieldColumn), and a pipeline whose stages read none of these (the default: dedupe and persist read the
 * identity, tenant and key columns and the COPY bytes) never pays for them. The identity columns (id,
 * source, time) and the tenant stay packed: the dedupe and persist stages read them for a few events of a
 * batch (identity checks), where decoding a whole column from the lines would cost more than the packing.
 */
export const COPY_FIELD_COLUMNS: Partial<Record<StringColumn, RowColumn>> = { type: "type", subject: "subject", data: "data", extensions: "extensions" };

/** A slice enriched: columns for every record of the slice (rejected and skipped ones hold "" / NaN). */
export interface EnrichSliceOk {
  ok: true;
  /** Every string column, except those in `copyFields`. */
  strings: Partial<Record<StringColumn, PackedStrings>>;
  /** Columns left in the COPY lines (COPY_FIELD_COLUMNS): the line field each is read from. Absent: none. */
  copyFields?: Partial<Record<StringColumn, number>>;
  time: Float64Array;
  probes: Uint32Array;
  /** The slice's COPY lines as bytes (null unless a later stage needs COPY rows). */
  copy: CopyBytes | null;
  /** The slice's events as structured-mode JSON lines (null unless a later stage needs JSON). */
  json?: CopyBytes | null;
  /** Slice-relative record index, rejection code, reason. */
  rejections: Array<[index: number, code: string, reason: string]>;
  /** Things the main thread should log (e.g. a user module's batch call failed and events were run one by one). */
  warnings: string[];
}

/** The slice failed as a whole (module failed to load, or an internal error); per-event problems never land here. */
export interface EnrichSliceFailed {
  ok: false;
  code: EnrichErrorCode;
  message: string;
  retriable: boolean;
}

export type EnrichSliceResult = EnrichSliceOk | EnrichSliceFailed;

/** Packs a column (see PackedStrings). */
export function packStrings(values: ReadonlyArray<string | null>): PackedStrings {
  const lengths = new Int32Array(values.length);
  const parts: string[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null) {
      lengths[i] = -1;
      parts[i] = "";
    } else {
      lengths[i] = v.length;
      parts[i] = v;
    }
  }
  return { text: parts.join(""), lengths };
}

/** Unpacks a column into `out` starting at `at`. */
export function unpackStrings(packed: PackedStrings, out: Array<string | null>, at: number): void {
  const { text, lengths } = packed;
  let p = 0;
  for (let i = 0; i < lengths.length; i++) {
    const len = lengths[i];
    if (len < 0) out[at + i] = null;
    else {
      out[at + i] = text.substring(p, p + len);
      p += len;
    }
  }
}


/** Every ArrayBuffer of a slice result, each once (a buffer listed twice makes postMessage throw). */
function resultBuffers(r: EnrichSliceOk): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const c of STRING_COLUMNS) {
    const packed = r.strings[c];
    if (packed) out.add(packed.lengths.buffer as ArrayBuffer);
  }
  out.add(r.time.buffer as ArrayBuffer);
  out.add(r.probes.buffer as ArrayBuffer);
  for (const rows of [r.copy, r.json]) {
    if (!rows) continue;
    out.add(rows.bytes.buffer as ArrayBuffer);
    out.add(rows.starts.buffer as ArrayBuffer);
  }
  return [...out];
}

/**
 * Marks a slice result so that piscina transfers its typed arrays to the main thread instead of cloning them
 * (Piscina.move with the Transferable interface). The result object itself is what arrives: the markers are
 * symbol-keyed, which structured clone ignores, so direct callers (benchmarks, tests) see a plain result.
 */
export function transferResult(r: EnrichSliceOk): EnrichSliceOk {
  const buffers = resultBuffers(r);
  Object.defineProperty(r, Piscina.transferableSymbol, { value: buffers, enumerable: false, configurable: true });
  Object.defineProperty(r, Piscina.valueSymbol, { value: r, enumerable: false, configurable: true });
  return Piscina.move(r as never) as unknown as EnrichSliceOk;
}
