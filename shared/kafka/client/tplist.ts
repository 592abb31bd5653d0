/** rd_kafka_topic_partition_list_t in and out of JS. Lists we create are destroyed by us (withTpList). */
import { ptr, read, toArrayBuffer } from "bun:ffi";
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
  /** Commit metadata (committed offsets only); absent when empty. */
  metadata?: string;
}

/** An element to put in a list: `offset` and commit `metadata` are written when given. */
export type TpInput = TopicPartition & { offset?: number; metadata?: string };

/** Metadata buffers lent to the elements of live lists, by list pointer (kept reachable until destroyTpList). */
const lentMetadata = new Map<number, Buffer[]>();

/** Creates a list holding `tps`; `offset` is written when given (e.g. commits, seeks, timestamps). */
export function newTpList(tps: ReadonlyArray<TpInput>): number {
  const lib = rdkafka();
  const list = lib.rd_kafka_topic_partition_list_new(Math.max(1, tps.length)) as number;
  const topics = new Map<string, Buffer>();
  for (const tp of tps) {
    let name = topics.get(tp.topic);
    if (!name) topics.set(tp.topic, (name = cstr(tp.topic)));
    // librdkafka copies the topic name into the element (rd_strdup), so `name` may be collected after.
    const elem = lib.rd_kafka_topic_partition_list_add(list, name, tp.partition) as number;
    if (tp.offset !== undefined) writeU64(new DataView(toArrayBuffer(elem, TP.offset, 8)), 0, tp.offset);
    if (tp.metadata) lend(list, elem, Buffer.from(tp.metadata, "utf8"));
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
    const md = read.ptr(e as never, TP.metadata);
    const mdSize = Number(read.u64(e as never, TP.metadataSize));
    if (md && mdSize > 0) out[i].metadata = Buffer.from(toArrayBuffer(md, 0, mdSize)).toString("utf8");
  }
  return out;
}

/**
 * Points an element's metadata at JS memory for the list's lifetime. librdkafka copies lists it keeps
 * (a commit copies its offsets before returning), and destroying a list frees the metadata it points to,
 * so destroyTpList detaches the lent buffers first.
 */
function lend(list: number, elem: number, buf: Buffer): void {
  const dv = new DataView(toArrayBuffer(elem, TP.metadata, 16));
  writeU64(dv, 0, ptr(buf));
  writeU64(dv, 8, buf.length);
  const bufs = lentMetadata.get(list);
  if (bufs) bufs.push(buf);
  else lentMetadata.set(list, [buf]);
}

/** Destroys a list made by newTpList, detaching metadata lent from JS first. */
export function destroyTpList(list: number): void {
  if (lentMetadata.delete(list)) {
    const cnt = read.i32(list as never, TPL.cnt);
    const elems = read.ptr(list as never, TPL.elems);
    for (let i = 0; i < cnt; i++) {
      const e = elems + i * TP.size;
      if (!read.ptr(e as never, TP.metadata)) continue;
      const dv = new DataView(toArrayBuffer(e, TP.metadata, 16));
      writeU64(dv, 0, 0);
      writeU64(dv, 8, 0);
    }
  }
  rdkafka().rd_kafka_topic_partition_list_destroy(list);
}

/** Runs `fn` with a temporary list built from `tps`, destroying the list afterwards. */
export function withTpList<T>(tps: ReadonlyArray<TpInput>, fn: (list: number) => T): T {
  const list = newTpList(tps);
  try {
    return fn(list);
  } finally {
    destroyTpList(list);
  }
}

/** "topic:partition" key for maps and sets of partitions. */
export function tpKey(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}

/** The topic and partition of a tpKey. */
export function splitTpKey(key: string): [string, number] {
  const at = key.lastIndexOf(":");
  return [key.slice(0, at), Number(key.slice(at + 1))];
}
