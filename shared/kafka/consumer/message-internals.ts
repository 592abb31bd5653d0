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
 * Headers themselves are taken from the record's wire bytes rather than with one rd_kafka_header_get_all
 * call, one C-string read and one view plus copy per header (~1 µs per header, which adds up in CloudEvents
 * binary mode). The first VERIFY_HEADERS messages with headers are decoded both ways and compared, with the
 * same fallback; after that the block is handed on undecoded (rawHeaders): the pipeline copies it once and
 * decodes it only where headers are read (wire-headers.ts).
 */
import { read, toArrayBuffer } from "bun:ffi";
import { KafkaError } from "../errors.ts";
import { rdkafka } from "../ffi/lib.ts";
import { decodeWireHeaders } from "../wire-headers.ts";
import { STRUCT_STRIDE, StructCopies } from "./struct-copies.ts";

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
/** Size of the public rd_kafka_message_t, all a struct copy may hold when the private layout is not read. */
const PUBLIC_STRUCT = 72;
const RD_KAFKA_RESP_ERR__NOENT = -156;

const scratch = new BigUint64Array(1);

/** Reads timestamp and header presence of consumed messages, from the struct while it is verified to agree. */
export class MessageInternals {
  private direct: boolean | null = null;
  private checked = 0;
  private headersChecked = 0;
  private reported = false;
  /** The structs of the messages of the last `read` call: the reader takes their public fields from here too. */
  readonly copies = new StructCopies();

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
    const c = this.copies;
    if (!this.isDirect) {
      c.fill(ptrs, PUBLIC_STRUCT);
      return readPublic(ptrs, ts, hasHeaders);
    }
    c.fill(ptrs, STRUCT_STRIDE);
    for (let i = 0; i < n; i++) {
      ts[i] = c.i64(i, RKM.timestamp);
      // A block of one byte is the header count alone, with no room for a header: a record without headers
      // (count 0 or -1) is one byte, so most messages need no read of the block itself (hasWireHeaders).
      hasHeaders[i] = c.ptr(i, RKM.headers) !== 0 || (c.i32At(i, RKM.wireHeadersLen) > 1 && hasWireHeaders(ptrs[i])) ? 1 : 0;
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
    const wire = decodeMessageHeaders(m);
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

  /**
   * The address and length of a message's wire header block when the pipeline may copy it as it is and decode
   * it later (the struct is read directly, librdkafka did not parse the headers itself, and the first
   * VERIFY_HEADERS messages with headers were checked against the library); false otherwise, then `headers`
   * must be asked. `out[0]` gets the address, `out[1]` the length. `i` is the message's index in the last `read`.
   */
  rawHeaders(i: number, out: Float64Array): boolean {
    const c = this.copies;
    if (!this.isDirect || this.headersChecked < VERIFY_HEADERS || c.ptr(i, RKM.headers) !== 0) return false;
    out[0] = c.ptr(i, RKM.wireHeadersData);
    out[1] = c.i32At(i, RKM.wireHeadersLen);
    return true;
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

/**
 * The record's wire headers as one copy of the block, decoded (values are views of that copy); null when
 * there are none, undefined when the bytes do not decode (the library path then reports what librdkafka says).
 */
function decodeMessageHeaders(m: number): Array<[string, Uint8Array | null]> | null | undefined {
  const len = read.i32(m as never, RKM.wireHeadersLen);
  if (len <= 0) return null;
  const copy = new Uint8Array(toArrayBuffer(read.ptr(m as never, RKM.wireHeadersData) as never, 0, len)).slice();
  return decodeWireHeaders(copy, 0, len);
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
