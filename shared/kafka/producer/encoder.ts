/**
 * Encodes one ProduceRecord into the rd_kafka_vu_t array that rd_kafka_produceva takes, with every byte it
 * points to (value, key, header names and values) in one reusable arena.
 *
 * Memory ownership: value and key are produced with RD_KAFKA_MSG_F_COPY and headers are always copied by
 * librdkafka (rd_kafka_header_add), so librdkafka holds no pointer into the arena once produceva returns.
 * That is why one arena can be rewritten for every message. We chose COPY over keeping references until the
 * delivery report because the copy is one memcpy into memory librdkafka allocates anyway, while keeping
 * per-message JS references alive until the DR would pin every payload (and the GC work) for the whole
 * in-flight window.
 */
import { ptr } from "bun:ffi";
import { VU, writeU64 } from "../ffi/memory.ts";
import type { ProduceRecord } from "../types.ts";

/** rd_kafka_vtype_t values (rdkafka.h). */
const VT = { RKT: 2, PARTITION: 3, VALUE: 4, KEY: 5, OPAQUE: 6, MSGFLAGS: 7, TIMESTAMP: 8, HEADER: 9 } as const;
const RD_KAFKA_MSG_F_COPY = 0x2;
const RD_KAFKA_PARTITION_UA = -1;

/** Reusable buffers for encoding records one at a time. */
export class RecordEncoder {
  private vus: Buffer;
  private vuView: DataView;
  /** Address of `vus`; a Buffer this large is never moved by the GC while we reference it. */
  vusPtr: number;
  private arena: Buffer;
  private arenaPtr: number;

  constructor() {
    this.vus = Buffer.alloc(VU.size * 16);
    this.vuView = new DataView(this.vus.buffer, this.vus.byteOffset, this.vus.byteLength);
    this.vusPtr = ptr(this.vus);
    this.arena = Buffer.alloc(64 * 1024);
    this.arenaPtr = ptr(this.arena);
  }

  /**
   * Writes the vu entries for `rec` (topic handle `rkt`, delivery-report opaque `opaque`) and returns how
   * many entries were written; the array starts at `vusPtr`.
   */
  encode(rec: ProduceRecord, rkt: number, opaque: number): number {
    const headers = rec.headers;
    const nvu = 7 + (headers ? headers.length : 0);
    if (nvu * VU.size > this.vus.length) this.growVus(nvu);
    this.ensureArena(rec);
    const dv = this.vuView;
    let at = 0;
    let off = 0;

    dv.setInt32(at, VT.RKT, true);
    writeU64(dv, at + VU.union, rkt);
    at += VU.size;

    dv.setInt32(at, VT.PARTITION, true);
    dv.setInt32(at + VU.union, rec.partition ?? RD_KAFKA_PARTITION_UA, true);
    at += VU.size;

    dv.setInt32(at, VT.VALUE, true);
    off = this.writeBytes(dv, at, rec.value, off);
    at += VU.size;

    if (rec.key !== undefined && rec.key !== null) {
      dv.setInt32(at, VT.KEY, true);
      off = this.writeBytes(dv, at, rec.key, off);
      at += VU.size;
    }

    dv.setInt32(at, VT.OPAQUE, true);
    writeU64(dv, at + VU.union, opaque);
    at += VU.size;

    dv.setInt32(at, VT.MSGFLAGS, true);
    dv.setInt32(at + VU.union, RD_KAFKA_MSG_F_COPY, true);
    at += VU.size;

    if (rec.timestamp !== undefined) {
      dv.setInt32(at, VT.TIMESTAMP, true);
      writeU64(dv, at + VU.union, rec.timestamp);
      at += VU.size;
    }

    if (headers) {
      for (let i = 0; i < headers.length; i++) {
        const [name, value] = headers[i];
        dv.setInt32(at, VT.HEADER, true);
        // Header name: NUL-terminated, since librdkafka reads it with strlen.
        const nameAt = off;
        off += this.arena.write(name, off, "utf8");
        this.arena[off++] = 0;
        writeU64(dv, at + VU.union, this.arenaPtr + nameAt);
        if (value === null || value === undefined) {
          writeU64(dv, at + VU.union + 8, 0);
          writeU64(dv, at + VU.union + 16, 0);
        } else {
          const valAt = off;
          off += typeof value === "string" ? this.arena.write(value, off, "utf8") : this.copy(value, off);
          writeU64(dv, at + VU.union + 8, this.arenaPtr + valAt);
          writeU64(dv, at + VU.union + 16, off - valAt);
        }
        at += VU.size;
      }
    }
    return at / VU.size;
  }

  /** Writes a VALUE/KEY union {ptr, size}; null becomes a NULL pointer (a Kafka null value or key). */
  private writeBytes(dv: DataView, at: number, data: Uint8Array | string | null | undefined, off: number): number {
    if (data === null || data === undefined) {
      writeU64(dv, at + VU.union, 0);
      writeU64(dv, at + VU.union + 8, 0);
      return off;
    }
    const n = typeof data === "string" ? this.arena.write(data, off, "utf8") : this.copy(data, off);
    writeU64(dv, at + VU.union, this.arenaPtr + off);
    writeU64(dv, at + VU.union + 8, n);
    return off + n;
  }

  private copy(data: Uint8Array, off: number): number {
    this.arena.set(data, off);
    return data.length;
  }

  /** Grows the arena to the worst case for `rec` (3 UTF-8 bytes per UTF-16 unit, NULs for header names). */
  private ensureArena(rec: ProduceRecord): void {
    let need = byteBound(rec.value) + byteBound(rec.key);
    if (rec.headers) for (const [n, v] of rec.headers) need += byteBound(n) + 1 + byteBound(v);
    if (need <= this.arena.length) return;
    let size = this.arena.length;
    while (size < need) size *= 2;
    this.arena = Buffer.alloc(size);
    this.arenaPtr = ptr(this.arena);
  }

  private growVus(n: number): void {
    this.vus = Buffer.alloc(VU.size * n * 2);
    this.vuView = new DataView(this.vus.buffer, this.vus.byteOffset, this.vus.byteLength);
    this.vusPtr = ptr(this.vus);
  }
}

function byteBound(d: Uint8Array | string | null | undefined): number {
  if (d === null || d === undefined) return 0;
  return typeof d === "string" ? d.length * 3 : d.length;
}
