/**
 * Raw memory helpers for the librdkafka binding: C strings we pass in, struct fields we read out, and
 * librdkafka-owned strings we copy into JS. Layouts are x86_64/arm64 LP64, checked against rdkafka.h 2.0.2
 * with offsetof() (see test/kafka/layout.test.ts).
 */
import { CString, read, type Pointer } from "bun:ffi";

/** rd_kafka_message_t field offsets (72 bytes). */
export const MSG = { err: 0, rkt: 8, partition: 16, payload: 24, len: 32, key: 40, keyLen: 48, offset: 56, opaque: 64 } as const;
/** rd_kafka_topic_partition_t field offsets (64 bytes per list element). */
export const TP = { topic: 0, partition: 8, offset: 16, metadata: 24, metadataSize: 32, err: 48, size: 64 } as const;
/** rd_kafka_topic_partition_list_t: int cnt, int size, elems pointer. */
export const TPL = { cnt: 0, elems: 8 } as const;
/** rd_kafka_vu_t: a 4-byte vtype, padding, then a 64-byte union at 8 (72 bytes). */
export const VU = { size: 72, union: 8 } as const;

const TWO32 = 4294967296;

/** A NUL-terminated UTF-8 copy of `s`, for passing as `const char *` (valid while the Buffer is referenced). */
export function cstr(s: string): Buffer {
  return Buffer.from(s + "\0", "utf8");
}

/** Reads a signed 64-bit integer as a JS number (exact up to 2^53, which Kafka offsets and timestamps never pass). */
export function readI64(p: Pointer | number, off: number): number {
  return read.u32(p as Pointer, off) + read.i32(p as Pointer, off + 4) * TWO32;
}

/** Reads a size_t as a JS number. */
export function readU64(p: Pointer | number, off: number): number {
  return read.u32(p as Pointer, off) + read.u32(p as Pointer, off + 4) * TWO32;
}

/** Copies a librdkafka-owned C string into a JS string; null for a NULL pointer. */
export function readCString(p: Pointer | number | null): string | null {
  if (!p) return null;
  return new CString(p as Pointer).toString();
}

/** Writes a 64-bit integer (pointer, size or int64) little-endian into `dv` at `off`. */
export function writeU64(dv: DataView, off: number, n: number): void {
  const lo = n % TWO32;
  const lo32 = lo < 0 ? lo + TWO32 : lo;
  dv.setUint32(off, lo32, true);
  dv.setInt32(off + 4, Math.floor(n / TWO32), true);
}

/** The NUL-terminated text librdkafka wrote into an errstr buffer we passed. */
export function readErrstr(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.toString("utf8", 0, end < 0 ? buf.length : end);
}
