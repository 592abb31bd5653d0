/**
 * Consumed rd_kafka_message_t structs copied into JS memory, one libc memcpy per message, so that each field is
 * a typed-array read instead of one bun:ffi `read.*` call (a message needs ~12 fields: key, value, topic,
 * partition, offset, and the private timestamp and header fields MessageInternals reads).
 */
import { ptr } from "bun:ffi";
import { copyMemory } from "../ffi/libc.ts";

const TWO32 = 4294967296;
/** Bytes kept per message: the 72-byte public struct plus rd_kafka_msg_t up to the wire header pointer (RKM). */
export const STRUCT_STRIDE = 136;

/** The structs of one batch of message pointers, message i at i * STRUCT_STRIDE. */
export class StructCopies {
  private u32 = new Uint32Array((STRUCT_STRIDE / 4) * 1024);
  private i32 = new Int32Array(this.u32.buffer);
  private at = ptr(this.u32);

  /**
   * Copies the first `bytes` (at most STRUCT_STRIDE) of each message's struct. Only the public 72 bytes unless
   * the private layout is known to be there (MessageInternals.isDirect): never read past what exists.
   */
  fill(ptrs: readonly number[], bytes: number): void {
    const n = ptrs.length;
    if (this.u32.length < (STRUCT_STRIDE / 4) * n) {
      this.u32 = new Uint32Array((STRUCT_STRIDE / 4) * Math.max(n, (this.u32.length / (STRUCT_STRIDE / 4)) * 2));
      this.i32 = new Int32Array(this.u32.buffer);
      this.at = ptr(this.u32);
    }
    for (let i = 0; i < n; i++) copyMemory(this.at + i * STRUCT_STRIDE, ptrs[i], bytes);
  }

  /** A pointer or size_t field of message i at byte offset `off` (exact below 2^53, as addresses are). */
  ptr(i: number, off: number): number {
    const w = (i * STRUCT_STRIDE + off) >> 2;
    return this.u32[w] + this.u32[w + 1] * TWO32;
  }

  /** A signed 64-bit field (offsets, timestamps: exact below 2^53). */
  i64(i: number, off: number): number {
    const w = (i * STRUCT_STRIDE + off) >> 2;
    return this.u32[w] + this.i32[w + 1] * TWO32;
  }

  u32At(i: number, off: number): number {
    return this.u32[(i * STRUCT_STRIDE + off) >> 2];
  }

  i32At(i: number, off: number): number {
    return this.i32[(i * STRUCT_STRIDE + off) >> 2];
  }
}
