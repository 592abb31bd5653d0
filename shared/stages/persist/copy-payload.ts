/**
 * The COPY data of a chunk of events. From the enrich stage's bytes (EnrichedEvents.copyBytes) it is a view
 * or a few block copies: consecutive events are consecutive bytes, so a chunk costs one `set` per run of
 * consecutive indexes (runs are broken only by duplicates and rejected events), and a chunk that is one
 * run costs nothing at all. Without bytes (a custom stage built the events) it is built from `copyLines`.
 * Events changed after enrich (Batch.dirty) have stale lines: they are encoded again, here on the main
 * thread, from the columns (`reencode`), and only they.
 */
import type { EnrichedEvents } from "../batch.ts";

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

/** COPY text for the events at `indexes` (ascending); with `withOrdinal`, each line ends in "\t<k + 1>". */
export function copyPayload(ev: EnrichedEvents, indexes: readonly number[], withOrdinal: boolean, reencode: Reencode | null = null): Uint8Array | string {
  const bytes = ev.copyBytes;
  const starts = ev.copyStarts;
  const dirty = reencode !== null && indexes.some((i) => reencode.dirty.has(i)) ? reencode : null;
  if (!bytes || !starts) return copyTextFromLines(dirty ? (i) => (dirty.dirty.has(i) ? dirty.line(i) : ev.copyLines[i]) : (i) => ev.copyLines[i], indexes, withOrdinal);
  if (dirty) return patched(bytes, starts, indexes, withOrdinal, dirty);
  return withOrdinal ? withOrdinals(bytes, starts, indexes) : gather(bytes, starts, indexes);
}

/** Like gather / withOrdinals, with the dirty events' lines encoded again: one part per event, then one copy. */
function patched(bytes: Uint8Array, starts: Uint32Array, indexes: readonly number[], withOrdinal: boolean, re: Reencode): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  const push = (part: Uint8Array) => {
    parts.push(part);
    total += part.length;
  };
  for (let k = 0; k < indexes.length; k++) {
    const i = indexes[k];
    const end = withOrdinal ? `\t${k + 1}\n` : "\n";
    if (re.dirty.has(i)) push(encoder.encode(re.line(i) + end));
    else if (!withOrdinal) push(bytes.subarray(starts[i], starts[i + 1]));
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

/** The lines at `indexes`, copied run by run (a single run is returned as a view). */
function gather(bytes: Uint8Array, starts: Uint32Array, indexes: readonly number[]): Uint8Array {
  const n = indexes.length;
  if (n === 0) return new Uint8Array(0);
  if (indexes[n - 1] - indexes[0] === n - 1) return bytes.subarray(starts[indexes[0]], starts[indexes[n - 1] + 1]);
  let total = 0;
  for (let k = 0; k < n; k++) total += starts[indexes[k] + 1] - starts[indexes[k]];
  const out = new Uint8Array(total);
  let p = 0;
  for (let k = 0; k < n; ) {
    const first = indexes[k];
    let last = first;
    while (k + 1 < n && indexes[k + 1] === last + 1) last = indexes[++k];
    k++;
    const from = starts[first];
    const to = starts[last + 1];
    out.set(bytes.subarray(from, to), p);
    p += to - from;
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
