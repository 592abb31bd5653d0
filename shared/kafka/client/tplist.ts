/** rd_kafka_topic_partition_list_t in and out of JS. Lists we create are destroyed by us (withTpList). */
import { read, toArrayBuffer } from "bun:ffi";
import { rdkafka } from "../ffi/lib.ts";
import { TP, TPL, cstr, readCString, readI64, writeU64 } from "../ffi/memory.ts";
import type { TopicPartition } from "../types.ts";

/** One element of a topic-partition list as read back from librdkafka. */
export interface TpEntry {
  topic: string;
  partition: number;
  offset: number;
  /** rd_kafka_resp_err_t of this element (0 = none). */
  err: number;
}

/** Creates a list holding `tps`; `offset` is written when given (e.g. commits, seeks, timestamps). */
export function newTpList(tps: ReadonlyArray<TopicPartition & { offset?: number }>): number {
  const lib = rdkafka();
  const list = lib.rd_kafka_topic_partition_list_new(Math.max(1, tps.length)) as number;
  const topics = new Map<string, Buffer>();
  for (const tp of tps) {
    let name = topics.get(tp.topic);
    if (!name) topics.set(tp.topic, (name = cstr(tp.topic)));
    // librdkafka copies the topic name into the element (rd_strdup), so `name` may be collected after.
    const elem = lib.rd_kafka_topic_partition_list_add(list, name, tp.partition) as number;
    if (tp.offset !== undefined) writeU64(new DataView(toArrayBuffer(elem, TP.offset, 8)), 0, tp.offset);
  }
  return list;
}

/** Reads every element of a librdkafka topic-partition list (does not destroy it). */
export function readTpList(list: number | null): TpEntry[] {
  if (!list) return [];
  const cnt = read.i32(list as never, TPL.cnt);
  const elems = read.ptr(list as never, TPL.elems);
  const out: TpEntry[] = new Array(cnt);
  for (let i = 0; i < cnt; i++) {
    const e = elems + i * TP.size;
    out[i] = {
      topic: readCString(read.ptr(e as never, TP.topic)) ?? "",
      partition: read.i32(e as never, TP.partition),
      offset: readI64(e, TP.offset),
      err: read.i32(e as never, TP.err),
    };
  }
  return out;
}

/** Runs `fn` with a temporary list built from `tps`, destroying the list afterwards. */
export function withTpList<T>(tps: ReadonlyArray<TopicPartition & { offset?: number }>, fn: (list: number) => T): T {
  const list = newTpList(tps);
  try {
    return fn(list);
  } finally {
    rdkafka().rd_kafka_topic_partition_list_destroy(list);
  }
}

/** "topic:partition" key for maps and sets of partitions. */
export function tpKey(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}
