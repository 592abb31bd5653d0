/**
 * The COPY data of a chunk of events. From the enrich stage's bytes (EnrichedEvents.copyBytes) it is a list
 * of views, one per run of consecutive indexes (consecutive events are consecutive bytes; runs are broken
 * only by duplicates and rejected events), which copy-in.ts frames as CopyData messages as they are: no
 * byte of a row is copied on the main thread to build the chunk. (Gathering the runs into one buffer first
 * cost ~0.9 µs/event in the e2e profile, mostly page faults on the fresh multi-megabyte buffer.) Only the
 * staging table's lines, which need their ordinal appended, are built into one new buffer. Without bytes (a
 * custom stage built the events) it is text built from `copyLines`. Events changed after enrich
 * (Batch.dirty) have stale lines: they are encoded again, here on the main thread, from the columns
 * (`reencode`), and only they.
 */
import type { EnrichedEvents } from "../batch.ts";
import { copyFieldValue } from "./copy-text.ts";

const TAB = 9;
const NEWLINE = 10;
/** Bytes of "\t<ordinal>\n" for ordinals below 10^10. */
const MAX_ORDINAL_BYTES = 12;

/** Events whose line must be encoded again, and how (the line without its newline). */
export interface Reencode {
  dirty: ReadonlySet<number>;
  line(i: number): string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** COPY text-format data, sent in order: one text, or byte parts (complete lines, each part one or more). */
export type CopyData = string | Uint8Array[];

/** COPY data for the events at `indexes` (ascending); with `withOrdinal`, each line ends in "\t<k + 1>". */
export function copyPayload(ev: EnrichedEvents, indexes: readonly number[], withOrdinal: boolean, reencode: Reencode | null = null): CopyData {
  const bytes = ev.copyBytes;
  const starts = ev.copyStarts;
  const dirty = reencode !== null && indexes.some((i) => reencode.dirty.has(i)) ? reencode : null;
  if (!bytes || !starts) return copyTextFromLines(dirty ? (i) => (dirty.dirty.has(i) ? dirty.line(i) : ev.copyLines[i]) : (i) => ev.copyLines[i], indexes, withOrdinal);
  if (withOrdinal) return [dirty ? withOrdinalsPatched(bytes, starts, indexes, dirty) : withOrdinals(bytes, starts, indexes)];
  return runs(bytes, starts, indexes, dirty);
}

/**
 * The lines at `indexes` as views of the enrich bytes, one per run of consecutive indexes; a dirty event
 * ends the run before it and contributes its line encoded again.
 */
function runs(bytes: Uint8Array, starts: Uint32Array, indexes: readonly number[], re: Reencode | null): Uint8Array[] {
  const n = indexes.length;
  const parts: Uint8Array[] = [];
  for (let k = 0; k < n; ) {
    const first = indexes[k++];
    if (re?.dirty.has(first)) {
      parts.push(encoder.encode(re.line(first) + "\n"));
      continue;
    }
    let last = first;
    while (k < n && indexes[k] === last + 1 && !re?.dirty.has(indexes[k])) last = indexes[k++];
    parts.push(bytes.subarray(starts[first], starts[last + 1]));
  }
  return parts;
}

/** Like withOrdinals, with the dirty events' lines encoded again (rare: one part per event, then one copy). */
function withOrdinalsPatched(bytes: Uint8Array, starts: Uint32Array, indexes: readonly number[], re: Reencode): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  const push = (part: Uint8Array) => {
    parts.push(part);
    total += part.length;
  };
  for (let k = 0; k < indexes.length; k++) {
    const i = indexes[k];
    const end = `\t${k + 1}\n`;
    if (re.dirty.has(i)) push(encoder.encode(re.line(i) + end));
    else {
      push(bytes.subarray(starts[i], starts[i + 1] - 1));
      push(encoder.encode(end));
    }
  }
  const out = new Uint8Array(total);
  let p = 0;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

/** The lines at `indexes`, each with "\t<position in the chunk, 1-based>" before its newline (the staging table's ordinal). */
function withOrdinals(bytes: Uint8Array, starts: Uint32Array, indexes: readonly number[]): Uint8Array {
  let total = 0;
  for (let k = 0; k < indexes.length; k++) total += starts[indexes[k] + 1] - starts[indexes[k]] + MAX_ORDINAL_BYTES;
  const out = new Uint8Array(total);
  let p = 0;
  for (let k = 0; k < indexes.length; k++) {
    const from = starts[indexes[k]];
    const to = starts[indexes[k] + 1];
    if (to === from) continue; // no line (cannot happen for a live event; kept total-safe)
    out.set(bytes.subarray(from, to - 1), p);
    p += to - 1 - from;
    out[p++] = TAB;
    const digits = String(k + 1);
    for (let d = 0; d < digits.length; d++) out[p++] = digits.charCodeAt(d);
    out[p++] = NEWLINE;
  }
  return out.subarray(0, p);
}

/** COPY text from the line strings (events not built by the enrich stage). */
function copyTextFromLines(line: (i: number) => string, indexes: readonly number[], withOrdinal: boolean): string {
  const parts = new Array<string>(indexes.length);
  for (let k = 0; k < indexes.length; k++) parts[k] = withOrdinal ? `${line(indexes[k])}\t${k + 1}\n` : `${line(indexes[k])}\n`;
  return parts.join("");
}

/**
 * The unnest parameters of the events at `indexes`: per mapped column (`columns` of them, in line order),
 * each event's value as text, null for SQL NULL. Taken from the events' own COPY lines, decoding only these
 * lines: reading the columns instead decoded each whole column of the batch from the lines (~1 µs per event
 * of the batch on the main thread, in the e2e profile) to write the few contested events of a batch. An
 * event changed after enrich (`dirty`), or without a line, is read from its columns (`values`).
 */
export function unnestParams(
  ev: EnrichedEvents,
  indexes: readonly number[],
  columns: number,
  values: (i: number) => ReadonlyArray<string | number | null>,
  dirty: ReadonlySet<number>,
): Array<Array<string | null>> {
  const out: Array<Array<string | null>> = Array.from({ length: columns }, () => new Array(indexes.length));
  const bytes = ev.copyBytes;
  const starts = ev.copyStarts;
  for (let k = 0; k < indexes.length; k++) {
    const i = indexes[k];
    const from = starts?.[i] ?? 0;
    const to = starts?.[i + 1] ?? 0;
    // COPY text escapes tabs inside values: the raw tabs are the field separators.
    const fields = bytes && to > from && !dirty.has(i) ? decoder.decode(bytes.subarray(from, to - 1)).split("\t") : null;
    if (fields !== null && fields.length === columns) {
      for (let c = 0; c < columns; c++) out[c][k] = copyFieldValue(fields[c]);
      continue;
    }
    const row = values(i);
    for (let c = 0; c < columns; c++) {
      const v = row[c];
      out[c][k] = v === null ? null : String(v);
    }
  }
  return out;
}
