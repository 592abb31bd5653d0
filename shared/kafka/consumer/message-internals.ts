/**
 * A consumed message's timestamp and whether it has headers, read from librdkafka's private rd_kafka_msg_t
 * (rdkafka_msg.h: every consumed rd_kafka_message_t is its first field) instead of one
 * rd_kafka_message_timestamp and one rd_kafka_message_headers FFI call per message. Those two calls were ~1 µs
 * of the ~4 µs a worker's main thread spent per event, although most events carry no headers.
 *
 * The private layout may change in any release, so the struct is read only for 2.x releases below 2.16 (the
 * offsets are 2.15.1's rdkafka_msg.h on LP64: the message, rkm_link, rkm_flags, rkm_tstype, then the fields
 * below), and only while it agrees with the public functions: every message of the first VERIFY_FIRST and one in VERIFY_EVERY
 * after that are read both ways; one disagreement switches the process to the public calls for good and is
 * reported once (LAYOUT_MISMATCH) through the consumer's onError.
 *
 * Headers themselves are decoded here from the record's wire bytes (one copy of the block per message)
 * rather than with one rd_kafka_header_get_all call, one C-string read and one view plus copy per header
 * (~1 µs per header, which adds up in CloudEvents binary mode). The first VERIFY_HEADERS messages with
 * headers are decoded both ways and compared, with the same fallback.
 */
import { read, toArrayBuffer } from "bun:ffi";
import { KafkaError } from "../errors.ts";
import { rdkafka } from "../ffi/lib.ts";
import { readI64 } from "../ffi/memory.ts";

/** rd_kafka_msg_t offsets past the public 72-byte rd_kafka_message_t. */
export const RKM = {
  /** int64_t rkm_timestamp (after rkm_link, rkm_flags, rkm_tstype). */
  timestamp: 96,
  /** rd_kafka_headers_t *rkm_headers: set once headers were parsed (or built by a producer). */
  headers: 104,
  /** rkm_u.consumer.binhdrs.len: int32_t length of the unparsed wire headers (-1 or 0: none). */
  wireHeadersLen: 120,
  /** rkm_u.consumer.binhdrs.data: the wire headers, starting with the header count (zigzag varint). */
  wireHeadersData: 128,
} as const;

/** rd_kafka_version() bounds of the checked layouts: 2.0.0 inclusive to 2.16.0 exclusive. */
const CHECKED_FROM = 0x02000000;
const CHECKED_BELOW = 0x02100000;
const VERIFY_FIRST = 10_000;
const VERIFY_EVERY = 4096;
const VERIFY_HEADERS = 1000;
const RD_KAFKA_RESP_ERR__NOENT = -156;

const scratch = new BigUint64Array(1);

/** Reads timestamp and header presence of consumed messages, from the struct while it is verified to agree. */
export class MessageInternals {
  private direct: boolean | null = null;
  private checked = 0;
  private headersChecked = 0;
  private reported = false;

  constructor(private readonly onMismatch: (err: KafkaError) => void = () => undefined) {}

  /** True while the struct is read directly (false: public calls, for an unchecked version or after a mismatch). */
  get isDirect(): boolean {
    return (this.direct ??= directAllowed());
  }

  /**
   * Timestamp (epoch ms, -1 when absent) into `ts[i]` and header presence into `hasHeaders[i]` for each
   * message pointer (messages with an error code never reach here: the consumer drops them).
   */
  read(ptrs: readonly number[], ts: Float64Array, hasHeaders: Uint8Array): void {
    const n = ptrs.length;
    if (!this.isDirect) return readPublic(ptrs, ts, hasHeaders);
    for (let i = 0; i < n; i++) {
      const m = ptrs[i];
      ts[i] = readI64(m, RKM.timestamp);
      hasHeaders[i] = read.ptr(m as never, RKM.headers) !== 0 || hasWireHeaders(m) ? 1 : 0;
    }
    this.verify(ptrs, ts, hasHeaders);
  }

  /**
   * The headers of a message `read` found to have some: decoded from the wire bytes while the struct is read
   * directly and librdkafka has not parsed them itself; otherwise (and when they do not decode) through
   * `viaLibrary`, which asks librdkafka.
   */
  headers(m: number, viaLibrary: (m: number) => Array<[string, Uint8Array | null]> | null): Array<[string, Uint8Array | null]> | null {
    if (!this.isDirect || read.ptr(m as never, RKM.headers) !== 0) return viaLibrary(m);
    const wire = decodeWireHeaders(m);
    if (this.headersChecked < VERIFY_HEADERS) {
      this.headersChecked++;
      const lib = viaLibrary(m);
      if (!sameHeaders(wire, lib)) {
        this.direct = false;
        this.report(`headers decoded from the wire differ from rd_kafka_header_get_all's`);
      }
      return lib;
    }
    return wire === undefined ? viaLibrary(m) : wire;
  }

  private verify(ptrs: readonly number[], ts: Float64Array, hasHeaders: Uint8Array): void {
    const lib = rdkafka();
    const n = ptrs.length;
    for (let i = 0; i < n; i++, this.checked++) {
      if (this.checked >= VERIFY_FIRST && this.checked % VERIFY_EVERY !== 0) continue;
      const m = ptrs[i];
      const t = lib.rd_kafka_message_timestamp(m, null) as number;
      // NOENT is "no headers"; any other answer (parsed, or a parse error readHeaders reports) is "has some".
      const h = lib.rd_kafka_message_headers(m, scratch) === RD_KAFKA_RESP_ERR__NOENT ? 0 : 1;
      if (t === ts[i] && h === hasHeaders[i]) continue;
      this.direct = false;
      this.report(`timestamp ${ts[i]} vs ${t}, headers ${hasHeaders[i]} vs ${h}`);
      return readPublic(ptrs, ts, hasHeaders);
    }
  }

  private report(detail: string): void {
    if (this.reported) return;
    this.reported = true;
    this.onMismatch(
      new KafkaError(
        "LAYOUT_MISMATCH",
        `librdkafka's rd_kafka_msg_t does not have the layout the binding reads (${detail}); using the public per-message calls from now on (slower, correct)`,
        { retriable: false, context: { version: String(rdkafka().rd_kafka_version_str()) } },
      ),
    );
  }
}

/**
 * Whether the unparsed wire headers hold any: a v2 record always carries the header count, so "no headers"
 * is one byte, the zigzag varint 0x00 (0) or 0x01 (-1), which rd_kafka_message_headers answers with NOENT.
 */
function hasWireHeaders(m: number): boolean {
  if (read.i32(m as never, RKM.wireHeadersLen) <= 0) return false;
  return read.u8(read.ptr(m as never, RKM.wireHeadersData) as never, 0) > 1;
}

const utf8 = new TextDecoder();
/** Position after the last varint read (avoids a tuple per varint). */
let at = 0;

/** Zigzag varint at `at` of `b` (advancing `at`); NaN past the end or beyond 2^35. */
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
 * Record headers from the wire (KIP-82: count, then per header key length, key, value length or -1, value),
 * values as views of one copy of the block; null when there are none, undefined when the bytes do not decode
 * (the library path then reports what librdkafka says).
 */
function decodeWireHeaders(m: number): Array<[string, Uint8Array | null]> | null | undefined {
  const len = read.i32(m as never, RKM.wireHeadersLen);
  if (len <= 0) return null;
  const wire = new Uint8Array(toArrayBuffer(read.ptr(m as never, RKM.wireHeadersData) as never, 0, len));
  at = 0;
  const count = varint(wire, len);
  if (!(count <= 100_000)) return undefined;
  if (count <= 0) return null;
  const copy = new ArrayBuffer(len);
  new Uint8Array(copy).set(wire);
  const out: Array<[string, Uint8Array | null]> = new Array(count);
  for (let i = 0; i < count; i++) {
    const nameLen = varint(wire, len);
    if (!(nameLen >= 0 && at + nameLen <= len)) return undefined;
    const name = nameAt(wire, at, at + nameLen);
    at += nameLen;
    const valueLen = varint(wire, len);
    if (!(valueLen >= -1 && at + valueLen <= len)) return undefined;
    out[i] = [name, valueLen === -1 ? null : new Uint8Array(copy, at, valueLen)];
    if (valueLen > 0) at += valueLen;
  }
  return out;
}

function sameHeaders(a: Array<[string, Uint8Array | null]> | null | undefined, b: Array<[string, Uint8Array | null]> | null): boolean {
  if (a === undefined) return false;
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const [an, av] = a[i];
    const [bn, bv] = b[i];
    if (an !== bn || (av === null) !== (bv === null)) return false;
    if (av && bv && Buffer.compare(av, bv) !== 0) return false;
  }
  return true;
}

function directAllowed(): boolean {
  if (process.env.TOPOFLEET_RDKAFKA_PUBLIC_READS === "1") return false;
  const v = rdkafka().rd_kafka_version();
  return v >= CHECKED_FROM && v < CHECKED_BELOW && process.arch !== "ia32" && process.arch !== "arm";
}

/** The public calls' answer: timestamps, and "maybe" for headers (readHeaders then asks librdkafka itself). */
function readPublic(ptrs: readonly number[], ts: Float64Array, hasHeaders: Uint8Array): void {
  const lib = rdkafka();
  for (let i = 0; i < ptrs.length; i++) {
    ts[i] = lib.rd_kafka_message_timestamp(ptrs[i], null) as number;
    hasHeaders[i] = 1;
  }
}
