/**
 * COPY lines as bytes. The enrich threads encode every event's COPY line to UTF-8 once, in one buffer, and
 * hand it to the main thread by transfer: no string clone across threads, no per-event unpacking, and the
 * persist stage writes runs of it to the socket without building (and the driver re-encoding) a text per
 * chunk. Measured: the result's clone + unpack went from ~0.57 to ~0.27 µs/event (dev/bench/enrich.ts,
 * "result transport"), and the main thread's chunk concatenation (~0.7 µs/event in the e2e profile) is gone.
 */
/** Line i is `bytes.subarray(starts[i], starts[i + 1])`, ending in "\n"; an event without a line has none. */
export interface CopyBytes {
  bytes: Uint8Array;
  /** size + 1 byte offsets. */
  starts: Uint32Array;
}

import { isAscii } from "node:buffer";
import { copyFieldValue } from "../persist/copy-text.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const NEWLINE = 10;

/**
 * Collects a slice's COPY lines (in record order) and encodes them in one go. The lines are appended to one
 * growing string rather than kept in an array and joined: the string is flattened once, by the encoder
 * (measured on 5,000 default-mapping lines: ~0.4 µs/line against ~0.6 µs/line for join + encode, the lines
 * themselves being ropes built field by field).
 */
export class CopyLinesBuilder {
  private text = "";
  private readonly lengths: Uint32Array;
  private n = 0;
  private chars = 0;

  constructor(size: number) {
    this.lengths = new Uint32Array(size);
  }

  /** Appends the next record's line ("" for a record without one). */
  add(line: string): void {
    if (line) {
      this.text += line + "\n";
      this.chars += line.length + 1;
      this.lengths[this.n] = line.length + 1;
    }
    this.n++;
  }

  /** The encoded lines. */
  finish(): CopyBytes {
    const n = this.n;
    const lengths = this.lengths;
    const bytes = encoder.encode(this.text);
    this.text = "";
    const starts = new Uint32Array(n + 1);
    let at = 0;
    if (bytes.length === this.chars) {
      // All ASCII (the usual case): byte offsets are character offsets.
      for (let i = 0; i < n; i++) {
        starts[i] = at;
        at += lengths[i];
      }
    } else {
      // Multi-byte characters: find each line's end. COPY text escapes newlines inside values, so every
      // "\n" byte ends a line.
      for (let i = 0; i < n; i++) {
        starts[i] = at;
        if (lengths[i]) at = bytes.indexOf(NEWLINE, at) + 1;
      }
    }
    starts[n] = at;
    return { bytes, starts };
  }
}

/** Encodes lines ("" = no line) into one buffer, each non-empty line followed by "\n". */
export function encodeCopyLines(lines: ReadonlyArray<string | undefined>): CopyBytes {
  const b = new CopyLinesBuilder(lines.length);
  for (const line of lines) b.add(line ?? "");
  return b.finish();
}

/** One buffer for slices that cover [0, size) in order; a single slice is returned as it is (no copy). */
export function concatCopyBytes(parts: ReadonlyArray<{ start: number; copy: CopyBytes }>, size: number): CopyBytes {
  if (parts.length === 1 && parts[0].start === 0 && parts[0].copy.starts.length === size + 1) return parts[0].copy;
  let total = 0;
  for (const p of parts) total += p.copy.bytes.length;
  const bytes = new Uint8Array(total);
  const starts = new Uint32Array(size + 1);
  let base = 0;
  for (const { start, copy } of parts) {
    bytes.set(copy.bytes, base);
    const k = copy.starts.length - 1;
    for (let j = 0; j < k; j++) starts[start + j] = base + copy.starts[j];
    base += copy.bytes.length;
  }
  starts[size] = base;
  return { bytes, starts };
}

/** The lines as strings without their "\n" ("" for events without a line): the `copyLines` view. */
export function decodeCopyLines(copy: CopyBytes): string[] {
  const n = copy.starts.length - 1;
  const out: string[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const from = copy.starts[i];
    const to = copy.starts[i + 1];
    out[i] = to > from ? decoder.decode(copy.bytes.subarray(from, to - 1)) : "";
  }
  return out;
}

/**
 * Field `field` (0-based) of the COPY lines of records [first, first + count) of `copy`, as the values the
 * thread escaped into them, written to out[at], out[at + 1], ...; "" for a record without a line (rejected or
 * skipped), as a packed column holds. COPY text escapes tabs and newlines inside values, so the fields of a
 * line are what lies between its raw tabs. An all-ASCII range is decoded once (byte offsets are character
 * offsets there); any other, line by line.
 */
export function copyFieldColumn(copy: CopyBytes, field: number, first: number, count: number, out: Array<string | null>, at: number): void {
  const { bytes, starts } = copy;
  const base = starts[first];
  const range = bytes.subarray(base, starts[first + count]);
  const whole = isAscii(range) ? decoder.decode(range) : null;
  for (let j = 0; j < count; j++) {
    const s = starts[first + j];
    const e = starts[first + j + 1];
    if (e <= s) {
      out[at + j] = "";
      continue;
    }
    // The line without its "\n", and where it starts in `text`.
    const text = whole ?? decoder.decode(bytes.subarray(s, e - 1));
    let from = whole === null ? 0 : s - base;
    const end = whole === null ? text.length : e - 1 - base;
    for (let k = 0; k < field; k++) from = text.indexOf("\t", from) + 1;
    let to = text.indexOf("\t", from);
    if (to === -1 || to > end) to = end;
    out[at + j] = copyFieldValue(text.slice(from, to));
  }
}
