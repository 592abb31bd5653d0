/**
 * COPY lines as bytes. The enrich threads encode every event's COPY line to UTF-8 once, in one buffer, and
 * hand it to the main thread by transfer: no string clone across threads, no per-event unpacking, and the
 * persist stage writes runs of it to the socket without building (and re-encoding) a text per chunk.
 * Measured on 5,000 ~330-byte events: ~0.3 µs/event less in the thread (no join of the largest column) and
 * ~1.5 µs/event less on the main thread (string clone, substring, concatenation, UTF-8 encoding in the driver).
 */

/** Line i is `bytes.subarray(starts[i], starts[i + 1])`, ending in "\n"; an event without a line has none. */
export interface CopyBytes {
  bytes: Uint8Array;
  /** size + 1 byte offsets. */
  starts: Uint32Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const NEWLINE = 10;

/** Encodes lines ("" = no line) into one buffer, each non-empty line followed by "\n". */
export function encodeCopyLines(lines: ReadonlyArray<string | undefined>): CopyBytes {
  const n = lines.length;
  const starts = new Uint32Array(n + 1);
  const parts: string[] = [];
  let chars = 0;
  for (let i = 0; i < n; i++) {
    const line = lines[i];
    if (line) {
      parts.push(line);
      chars += line.length + 1;
    }
  }
  const text = parts.length ? parts.join("\n") + "\n" : "";
  const bytes = encoder.encode(text);
  if (bytes.length === chars) {
    // All ASCII (the usual case): byte offsets are character offsets.
    let at = 0;
    for (let i = 0; i < n; i++) {
      starts[i] = at;
      const len = lines[i]?.length ?? 0;
      if (len) at += len + 1;
    }
    starts[n] = at;
    return { bytes, starts };
  }
  // Multi-byte characters: find each line's end. COPY text escapes newlines inside values, so every "\n"
  // byte ends a line.
  let at = 0;
  for (let i = 0; i < n; i++) {
    starts[i] = at;
    if (lines[i]) at = bytes.indexOf(NEWLINE, at) + 1;
  }
  starts[n] = at;
  return { bytes, starts };
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
