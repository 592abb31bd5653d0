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
import { read, toArrayBuffer } from "bun:ffi";
import { rdkafka } from "../ffi/lib.ts";
import { MSG, readCString, readI64 } from "../ffi/memory.ts";
import type { ConsumedMessage } from "../types.ts";

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

/** Scratch out-parameters for rd_kafka_message_headers / rd_kafka_header_get_all. */
const hdrsOut = new BigUint64Array(1);
const nameOut = new BigUint64Array(1);
const valOut = new BigUint64Array(1);
const sizeOut = new BigUint64Array(1);

/** Converts message pointers into ConsumedMessages (the messages stay alive; see the view lifetime above). */
export function readMessages(ptrs: readonly number[], topics: TopicNames): ConsumedMessage[] {
  const lib = rdkafka();
  const out: ConsumedMessage[] = new Array(ptrs.length);
  let lastRkt = -1;
  let lastTopic = "";
  for (let i = 0; i < ptrs.length; i++) {
    const m = ptrs[i];
    const rkt = read.ptr(m as never, MSG.rkt);
    if (rkt !== lastRkt) {
      lastRkt = rkt;
      lastTopic = topics.get(rkt);
    }
    const payload = read.ptr(m as never, MSG.payload);
    const key = read.ptr(m as never, MSG.key);
    out[i] = {
      topic: lastTopic,
      partition: read.i32(m as never, MSG.partition),
      offset: readI64(m, MSG.offset),
      timestamp: lib.rd_kafka_message_timestamp(m, null) as number,
      // Sizes above 4 GiB do not exist in Kafka (message.max.bytes caps at 1 GB), so the low word suffices.
      key: key ? view(key, read.u32(m as never, MSG.keyLen)) : null,
      value: payload ? view(payload, read.u32(m as never, MSG.len)) : null,
      headers: readHeaders(m),
    };
  }
  return out;
}

function view(p: number, len: number): Uint8Array {
  return len === 0 ? EMPTY : new Uint8Array(toArrayBuffer(p as never, 0, len));
}

/** Copies a message's headers out (librdkafka owns the header list, freed with the message). */
function readHeaders(m: number): Array<[string, Uint8Array | null]> | null {
  const lib = rdkafka();
  const err = lib.rd_kafka_message_headers(m, hdrsOut);
  if (err === RD_KAFKA_RESP_ERR__NOENT || err !== 0) return null;
  const hdrs = Number(hdrsOut[0]);
  const out: Array<[string, Uint8Array | null]> = [];
  for (let idx = 0; lib.rd_kafka_header_get_all(hdrs, idx, nameOut, valOut, sizeOut) === 0; idx++) {
    const name = readCString(Number(nameOut[0])) ?? "";
    const val = Number(valOut[0]);
    const size = Number(sizeOut[0]);
    out.push([name, val ? (size ? new Uint8Array(toArrayBuffer(val as never, 0, size)).slice() : new Uint8Array(0)) : null]);
  }
  return out.length ? out : null;
}
