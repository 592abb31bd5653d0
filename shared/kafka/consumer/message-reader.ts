/**
 * Reads consumed rd_kafka_message_t structs into KafkaMessages: one pointer each, fields read from a copy
 * of the struct (StructCopies) at the offsets in ffi/memory.ts. Key, value and the raw header block stay in
 * librdkafka's memory (MessageBytes): views are made only if something reads them, and the pipeline copies
 * the bytes straight into its packed buffers instead (packRecords).
 *
 * View lifetime: a `value`/`key` view points into the fetch buffer librdkafka holds for that message. It is
 * valid exactly until the message is destroyed, i.e. until ConsumedBatch.release() (or Consumer.close(),
 * which releases unreleased batches). Reading a view after that reads freed memory: copy what you keep
 * (the engine does, with packRecords, before releasing). Reading `key`, `value` or `headers` of a message
 * after the release throws.
 */
import { ptr, toArrayBuffer } from "bun:ffi";
import { rdkafka } from "../ffi/lib.ts";
import { MSG, readCString } from "../ffi/memory.ts";
import { copyMemory } from "../ffi/libc.ts";
import { KafkaError } from "../errors.ts";
import { decodeWireHeaders } from "../wire-headers.ts";
import type { ConsumedMessage } from "../types.ts";
import type { MessageInternals } from "./message-internals.ts";

const EMPTY = new Uint8Array(0);
/** Per-call scratch for MessageInternals.read. */
let ts = new Float64Array(1024);
let hasHeaders = new Uint8Array(1024);
const RD_KAFKA_RESP_ERR__NOENT = -156;

/** Topic names by rd_kafka_topic_t pointer; cleared on every rebalance, when a topic handle could go away. */
export class TopicNames {
  private readonly names = new Map<number, string>();

  /** The topic name of an rd_kafka_topic_t. */
  get(rkt: number): string {
    let n = this.names.get(rkt);
    if (n === undefined) {
      n = readCString(rdkafka().rd_kafka_topic_name(rkt) as number) ?? "";
      this.names.set(rkt, n);
    }
    return n;
  }

  clear(): void {
    this.names.clear();
  }
}

/** Scratch out-parameters for rd_kafka_message_headers / rd_kafka_header_get_all, passed by address. */
const scratch = new BigUint64Array(4);
const scratchPtr = ptr(scratch);
const HDRS_OUT = scratchPtr;
const NAME_OUT = scratchPtr + 8;
const VAL_OUT = scratchPtr + 16;
const SIZE_OUT = scratchPtr + 24;

/**
 * Records of one fetched record batch sit one after another in librdkafka's fetch buffer, separated only by
 * record framing and headers. Consecutive messages whose bytes are at most this far apart share one
 * ArrayBuffer over that span, and each gets a subview of it: one toArrayBuffer per run of messages instead
 * of two per message (~240 ns each). The span never leaves one fetch buffer in practice, and only covers
 * bytes of the same messages, so `view.buffer` exposes nothing but record bytes of this batch.
 */
const MAX_GAP = 4096;
const MAX_SPAN = 64 * 1024 * 1024;

const rawOut = new Float64Array(2);

/**
 * The bytes of one consume call's messages, still in librdkafka's memory: key, value and raw header block
 * addresses and lengths, read once. Views are made only when a message's `key`, `value` or `headers` is
 * first read, for the whole batch at once; the pipeline never reads them: it copies the bytes straight into
 * its packed buffers (copyValue, copyKey, copyHeaderBlock), one libc memcpy per field instead of a view
 * object plus a TypedArray.set. Every read after the batch's release throws (RELEASED).
 */
export class MessageBytes {
  readonly kp: Float64Array;
  readonly kl: Float64Array;
  readonly vp: Float64Array;
  readonly vl: Float64Array;
  /** Raw wire header block (address, length) of messages whose headers were not decoded at read time. */
  readonly hp: Float64Array;
  readonly hl: Float64Array;
  private keys: Array<Uint8Array | null> | null = null;
  private values: Array<Uint8Array | null> | null = null;
  released = false;

  constructor(readonly size: number) {
    this.kp = new Float64Array(size);
    this.kl = new Float64Array(size);
    this.vp = new Float64Array(size);
    this.vl = new Float64Array(size);
    this.hp = new Float64Array(size);
    this.hl = new Float64Array(size);
  }

  /** Message i's value as a view into librdkafka's memory (valid until release), or null. */
  value(i: number): Uint8Array | null {
    this.ensureLive("value");
    if (!this.values) this.makeViews();
    return this.values![i];
  }

  /** Message i's key as a view into librdkafka's memory (valid until release), or null. */
  key(i: number): Uint8Array | null {
    this.ensureLive("key");
    if (!this.keys) this.makeViews();
    return this.keys![i];
  }

  /** Message i's raw header block decoded, values copied (safe to keep); null when it has none. */
  headers(i: number): Array<[string, Uint8Array | null]> | null {
    this.ensureLive("headers");
    const len = this.hl[i];
    if (len <= 0) return null;
    const copy = new Uint8Array(toArrayBuffer(this.hp[i] as never, 0, len)).slice();
    // Bytes that do not decode are what librdkafka's own parser refuses too: no headers.
    return decodeWireHeaders(copy, 0, len) ?? null;
  }

  /** Copies message i's value to the address `dst` (value length bytes, see vl); nothing for a null value. */
  copyValue(i: number, dst: number): void {
    this.ensureLive("value");
    if (this.vl[i] > 0) copyMemory(dst, this.vp[i], this.vl[i]);
  }

  /** Copies message i's key to the address `dst` (kl bytes). */
  copyKey(i: number, dst: number): void {
    this.ensureLive("key");
    if (this.kl[i] > 0) copyMemory(dst, this.kp[i], this.kl[i]);
  }

  /** Copies message i's raw header block to the address `dst` (hl bytes). */
  copyHeaderBlock(i: number, dst: number): void {
    this.ensureLive("headers");
    if (this.hl[i] > 0) copyMemory(dst, this.hp[i], this.hl[i]);
  }

  private ensureLive(what: string): void {
    if (this.released) throw new KafkaError("RELEASED", `a consumed message's ${what} was read after its batch was released; copy what you keep before release()`, { retriable: false });
  }

  private makeViews(): void {
    const n = this.size;
    const { kp, kl, vp, vl } = this;
    const keys: Array<Uint8Array | null> = new Array(n);
    const values: Array<Uint8Array | null> = new Array(n);
    let runEnd = 0; // first index past the current run
    let base = 0;
    let ab: ArrayBuffer | null = null;
    for (let i = 0; i < n; i++) {
      if (i === runEnd) [runEnd, base, ab] = this.openRun(i);
      keys[i] = kp[i] ? (kl[i] ? new Uint8Array(ab!, kp[i] - base, kl[i]) : EMPTY) : null;
      values[i] = vp[i] ? (vl[i] ? new Uint8Array(ab!, vp[i] - base, vl[i]) : EMPTY) : null;
    }
    this.keys = keys;
    this.values = values;
  }

  /** Finds the run of messages starting at `from` whose key/value bytes are close together; maps its span. */
  private openRun(from: number): [number, number, ArrayBuffer | null] {
    const { kp, kl, vp, vl, size: n } = this;
    let lo = Infinity;
    let hi = 0;
    let i = from;
    for (; i < n; i++) {
      let s = Infinity;
      let e = 0;
      if (kp[i] && kl[i]) (s = kp[i]), (e = kp[i] + kl[i]);
      if (vp[i] && vl[i]) (s = Math.min(s, vp[i])), (e = Math.max(e, vp[i] + vl[i]));
      if (e === 0) continue; // nothing to view
      if (hi !== 0 && (s < lo || s > hi + MAX_GAP || e - lo > MAX_SPAN)) break;
      if (s < lo) lo = s;
      if (e > hi) hi = e;
    }
    if (hi === 0) return [i, 0, null];
    return [i, lo, toArrayBuffer(lo as never, 0, hi - lo)];
  }
}

/**
 * A consumed message. Topic, partition, offset and timestamp are plain fields; key, value and headers come
 * from the batch's MessageBytes on first read (see there), valid until the batch is released.
 */
export class KafkaMessage implements ConsumedMessage {
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly offset: number,
    readonly timestamp: number,
    /** Position in `bytes`. */
    readonly index: number,
    readonly bytes: MessageBytes,
    /** Headers decoded at read time; undefined while they are only a raw block in `bytes`. */
    private decoded: Array<[string, Uint8Array | null]> | null | undefined,
  ) {}

  get key(): Uint8Array | null {
    return this.bytes.key(this.index);
  }

  get value(): Uint8Array | null {
    return this.bytes.value(this.index);
  }

  get headers(): Array<[string, Uint8Array | null]> | null {
    if (this.decoded === undefined) this.decoded = this.bytes.headers(this.index);
    return this.decoded;
  }

  /** Value bytes (0 for a null or empty value; `bytes.vp[index]` is 0 for null). */
  get valueSize(): number {
    return this.bytes.vl[this.index];
  }

  /** Key bytes (0 for a null or empty key). */
  get keySize(): number {
    return this.bytes.kl[this.index];
  }

  /** Bytes of the raw wire header block still to copy (0 when the headers were decoded at read time, or none). */
  get headerBlockSize(): number {
    return this.decoded === undefined ? this.bytes.hl[this.index] : 0;
  }
}

/** Converts message pointers into KafkaMessages (the messages stay alive; see the view lifetime above). */
export function readMessages(ptrs: readonly number[], topics: TopicNames, internals: MessageInternals): { messages: KafkaMessage[]; bytes: MessageBytes } {
  const n = ptrs.length;
  if (ts.length < n) {
    const size = Math.max(n, ts.length * 2);
    ts = new Float64Array(size);
    hasHeaders = new Uint8Array(size);
  }
  internals.read(ptrs, ts, hasHeaders);
  const c = internals.copies;
  const bytes = new MessageBytes(n);
  const { kp, kl, vp, vl, hp, hl } = bytes;
  const out: KafkaMessage[] = new Array(n);
  let lastRkt = -1;
  let lastTopic = "";
  for (let i = 0; i < n; i++) {
    // Sizes above 4 GiB do not exist in Kafka (message.max.bytes caps at 1 GB).
    kp[i] = c.ptr(i, MSG.key);
    kl[i] = c.u32At(i, MSG.keyLen);
    vp[i] = c.ptr(i, MSG.payload);
    vl[i] = c.u32At(i, MSG.len);
    const rkt = c.ptr(i, MSG.rkt);
    if (rkt !== lastRkt) {
      lastRkt = rkt;
      lastTopic = topics.get(rkt);
    }
    let headers: Array<[string, Uint8Array | null]> | null | undefined = null;
    if (hasHeaders[i]) {
      if (internals.rawHeaders(i, rawOut)) {
        headers = undefined;
        hp[i] = rawOut[0];
        hl[i] = rawOut[1];
      } else headers = internals.headers(ptrs[i], readHeaders);
    }
    out[i] = new KafkaMessage(lastTopic, c.i32At(i, MSG.partition), c.i64(i, MSG.offset), ts[i], i, bytes, headers);
  }
  return { messages: out, bytes };
}

/** Copies a message's headers out (librdkafka owns the header list, freed with the message). */
function readHeaders(m: number): Array<[string, Uint8Array | null]> | null {
  const lib = rdkafka();
  const err = lib.rd_kafka_message_headers(m, HDRS_OUT);
  if (err === RD_KAFKA_RESP_ERR__NOENT || err !== 0) return null;
  const hdrs = Number(scratch[0]);
  const out: Array<[string, Uint8Array | null]> = [];
  for (let idx = 0; lib.rd_kafka_header_get_all(hdrs, idx, NAME_OUT, VAL_OUT, SIZE_OUT) === 0; idx++) {
    const name = readCString(Number(scratch[1])) ?? "";
    const val = Number(scratch[2]);
    const size = Number(scratch[3]);
    out.push([name, val ? (size ? new Uint8Array(toArrayBuffer(val as never, 0, size)).slice() : new Uint8Array(0)) : null]);
  }
  return out.length ? out : null;
}
