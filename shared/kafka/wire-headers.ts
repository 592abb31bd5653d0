/**
 * Kafka record headers in their wire form (KIP-82, record format v2): a zigzag-varint count, then per header a
 * zigzag-varint key length, the key (UTF-8), a zigzag-varint value length (-1: null value) and the value.
 *
 * The pipeline keeps a record's headers as this block, copied once out of librdkafka's fetch buffer, and
 * decodes it only where headers are read: the enrich thread (binary-mode CloudEvents) and, on the main
 * thread, dead letters, the Kafka sink and tracing. Pure code, no FFI: enrich threads import it too.
 */

/** One record's headers, as a list of (name, value) pairs; a null value is a header without one. */
export type WireHeaderList = Array<[name: string, value: Uint8Array | null]>;

/** More headers than this in one record is taken for corrupt bytes. */
const MAX_COUNT = 100_000;

const utf8 = new TextDecoder();
const encoder = new TextEncoder();

/** Position after the last varint read (avoids a tuple per varint). */
let at = 0;

/** Zigzag varint at `at` of `b` (advancing `at`); NaN past `end` or beyond 2^35. */
function varint(b: Uint8Array, end: number): number {
  let raw = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (at >= end) return NaN;
    const byte = b[at++];
    raw += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  }
  return NaN;
}

/** Header names by a hash of their bytes: the same few names (ce_id, ce_type, ...) come with every message. */
const names = new Map<number, string>();

/** The name in `b[from, to)`: interned when ASCII (checked byte by byte on a hit), else decoded as UTF-8. */
function nameAt(b: Uint8Array, from: number, to: number): string {
  let h = to - from;
  for (let i = from; i < to; i++) {
    const c = b[i];
    if (c >= 0x80) return utf8.decode(b.subarray(from, to));
    h = (Math.imul(h, 31) + c) | 0;
  }
  const hit = names.get(h);
  if (hit !== undefined && hit.length === to - from) {
    let i = 0;
    while (i < hit.length && hit.charCodeAt(i) === b[from + i]) i++;
    if (i === hit.length) return hit;
  }
  let s = "";
  for (let i = from; i < to; i++) s += String.fromCharCode(b[i]);
  if (names.size < 4096) names.set(h, s);
  return s;
}

/**
 * Visits the headers of the block `b[from, to)`: `entry(nameFrom, nameTo, valueFrom, valueTo)` per header,
 * valueFrom -1 for a null value. Returns the header count, 0 when there are none, or -1 when the bytes do not
 * decode (entries before the bad one were reported: callers discard what they built).
 */
export function walkWireHeaders(b: Uint8Array, from: number, to: number, entry: (nameFrom: number, nameTo: number, valueFrom: number, valueTo: number) => void): number {
  if (from >= to) return 0;
  at = from;
  const count = varint(b, to);
  if (!(count <= MAX_COUNT)) return -1;
  if (count <= 0) return 0;
  for (let i = 0; i < count; i++) {
    const nameLen = varint(b, to);
    if (!(nameLen >= 0 && at + nameLen <= to)) return -1;
    const nameFrom = at;
    at += nameLen;
    const valueLen = varint(b, to);
    if (!(valueLen >= -1 && at + valueLen <= to)) return -1;
    // `entry` may walk another block (it shares `at`): the position after this header is kept aside.
    const next = valueLen > 0 ? at + valueLen : at;
    entry(nameFrom, nameFrom + nameLen, valueLen === -1 ? -1 : at, next);
    at = next;
  }
  return count;
}

/**
 * The headers of the block `b[from, to)`: values are views of `b` (copy `b` first when it does not outlive
 * the result). Null when there are none, undefined when the bytes do not decode.
 */
export function decodeWireHeaders(b: Uint8Array, from: number, to: number): WireHeaderList | null | undefined {
  const out: WireHeaderList = [];
  const n = walkWireHeaders(b, from, to, (nf, nt, vf, vt) => {
    out.push([nameAt(b, nf, nt), vf < 0 ? null : b.subarray(vf, vt)]);
  });
  if (n < 0) return undefined;
  return n === 0 ? null : out;
}

/** Bytes of a zigzag varint of `n` (|n| < 2^31). */
function varintSize(n: number): number {
  let raw = n >= 0 ? n * 2 : -n * 2 - 1;
  let size = 1;
  while (raw >= 0x80) {
    raw = Math.floor(raw / 128);
    size++;
  }
  return size;
}

function writeVarint(dst: Uint8Array, pos: number, n: number): number {
  let raw = n >= 0 ? n * 2 : -n * 2 - 1;
  while (raw >= 0x80) {
    dst[pos++] = (raw & 0x7f) | 0x80;
    raw = Math.floor(raw / 128);
  }
  dst[pos++] = raw;
  return pos;
}

const isAsciiName = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
};

/** Size of the wire block of `h` (0 for no headers: the pipeline stores nothing for a record without). */
export function wireHeadersSize(h: WireHeaderList | null | undefined): number {
  if (!h || h.length === 0) return 0;
  let n = varintSize(h.length);
  for (const [name, value] of h) {
    const nameBytes = isAsciiName(name) ? name.length : Buffer.byteLength(name);
    n += varintSize(nameBytes) + nameBytes + (value === null ? 1 : varintSize(value.byteLength) + value.byteLength);
  }
  return n;
}

/** Writes the wire block of `h` (wireHeadersSize bytes) into `dst` at `pos`; returns the position after it. */
export function writeWireHeaders(h: WireHeaderList | null | undefined, dst: Uint8Array, pos: number): number {
  if (!h || h.length === 0) return pos;
  pos = writeVarint(dst, pos, h.length);
  for (const [name, value] of h) {
    if (isAsciiName(name)) {
      pos = writeVarint(dst, pos, name.length);
      for (let i = 0; i < name.length; i++) dst[pos++] = name.charCodeAt(i);
    } else {
      const bytes = encoder.encode(name);
      pos = writeVarint(dst, pos, bytes.byteLength);
      dst.set(bytes, pos);
      pos += bytes.byteLength;
    }
    if (value === null) pos = writeVarint(dst, pos, -1);
    else {
      pos = writeVarint(dst, pos, value.byteLength);
      dst.set(value, pos);
      pos += value.byteLength;
    }
  }
  return pos;
}
