/**
 * Reads consumed rd_kafka_message_t structs into ConsumedMessage objects: one pointer each, fields read with
 * bun:ffi `read.*` at the offsets in ffi/memory.ts, value and key as zero-copy views (toArrayBuffer), headers
 * copied.
 *
 * View lifetime: a `value`/`key` view points into the fetch buffer librdkafka holds for that message. It is
 * valid exactly until the message is destroyed, i.e. until ConsumedBatch.release() (or Consumer.close(),
 * which releases unreleased batches). Reading a view after that reads freed memory: copy what you keep
 * (the engine does, with packRecords, before releasing).
 */
import { ptr, read, toArrayBuffer } from "bun:ffi";
import { rdkafka } from "../ffi/lib.ts";
import { MSG, readCString, readI64 } from "../ffi/memory.ts";
import type { ConsumedMessage } from "../types.ts";
import type { MessageInternals } from "./message-internals.ts";

const EMPTY = new Uint8Array(0);
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

/** Per-batch scratch: key/value addresses and lengths, read once. */
let kp = new Float64Array(1024);
let kl = new Float64Array(1024);
let vp = new Float64Array(1024);
let vl = new Float64Array(1024);
let ts = new Float64Array(1024);
let hasHeaders = new Uint8Array(1024);

/** Converts message pointers into ConsumedMessages (the messages stay alive; see the view lifetime above). */
export function readMessages(ptrs: readonly number[], topics: TopicNames, internals: MessageInternals): ConsumedMessage[] {
  const n = ptrs.length;
  if (kp.length < n) {
    const size = Math.max(n, kp.length * 2);
    kp = new Float64Array(size);
    kl = new Float64Array(size);
    vp = new Float64Array(size);
    vl = new Float64Array(size);
    ts = new Float64Array(size);
    hasHeaders = new Uint8Array(size);
  }
  internals.read(ptrs, ts, hasHeaders);
  // Pass 1: addresses and lengths. Sizes above 4 GiB do not exist in Kafka (message.max.bytes caps at 1 GB).
  for (let i = 0; i < n; i++) {
    const m = ptrs[i];
    kp[i] = read.ptr(m as never, MSG.key);
    kl[i] = read.u32(m as never, MSG.keyLen);
    vp[i] = read.ptr(m as never, MSG.payload);
    vl[i] = read.u32(m as never, MSG.len);
  }
  const out: ConsumedMessage[] = new Array(n);
  let lastRkt = -1;
  let lastTopic = "";
  let runEnd = 0; // first index past the current run
  let base = 0;
  let ab: ArrayBuffer | null = null;
  for (let i = 0; i < n; i++) {
    if (i === runEnd) [runEnd, base, ab] = openRun(i, n);
    const m = ptrs[i];
    const rkt = read.ptr(m as never, MSG.rkt);
    if (rkt !== lastRkt) {
      lastRkt = rkt;
      lastTopic = topics.get(rkt);
    }
    out[i] = {
      topic: lastTopic,
      partition: read.i32(m as never, MSG.partition),
      offset: readI64(m, MSG.offset),
      timestamp: ts[i],
      key: kp[i] ? (kl[i] ? new Uint8Array(ab!, kp[i] - base, kl[i]) : EMPTY) : null,
      value: vp[i] ? (vl[i] ? new Uint8Array(ab!, vp[i] - base, vl[i]) : EMPTY) : null,
      headers: hasHeaders[i] ? internals.headers(m, readHeaders) : null,
    };
  }
  return out;
}

/** Finds the run of messages starting at `from` whose key/value bytes are close together; maps its span. */
function openRun(from: number, n: number): [number, number, ArrayBuffer | null] {
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
