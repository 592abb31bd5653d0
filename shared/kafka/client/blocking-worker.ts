/**
 * Worker thread for the few librdkafka calls that only exist as blocking functions in 2.0
 * (rd_kafka_metadata, rd_kafka_committed, rd_kafka_offsets_for_times, rd_kafka_query_watermark_offsets).
 * They run here so the event-loop thread never waits on the network. Handles arrive as raw pointers:
 * librdkafka is thread-safe for these calls, and the owning client keeps the handle alive until every
 * call it started here has answered (see BlockingCalls).
 */
import { read } from "bun:ffi";
import { KafkaError } from "../errors.ts";
import { rdkafka } from "../ffi/lib.ts";
import { cstr, readCString } from "../ffi/memory.ts";
import { errFromCode } from "./rd-errors.ts";
import { readTpList, withTpList } from "./tplist.ts";
import type { BlockingRequest } from "./blocking.ts";

declare const self: Worker;

function run(req: BlockingRequest): unknown {
  const lib = rdkafka();
  switch (req.op) {
    case "watermarks": {
      const low = new BigInt64Array(1);
      const high = new BigInt64Array(1);
      const err = lib.rd_kafka_query_watermark_offsets(req.rk, cstr(req.topic), req.partition, low, high, req.timeoutMs);
      if (err !== 0) throw errFromCode(err, `watermarks of ${req.topic}[${req.partition}]`);
      return { low: Number(low[0]), high: Number(high[0]) };
    }
    case "committed":
    case "offsetsForTimes":
      return withTpList(req.tps, (list) => {
        const fn = req.op === "committed" ? lib.rd_kafka_committed : lib.rd_kafka_offsets_for_times;
        const err = fn(req.rk, list, req.timeoutMs);
        if (err !== 0) throw errFromCode(err, req.op);
        return readTpList(list);
      });
    case "metadata": {
      const out = new BigUint64Array(1);
      const err = lib.rd_kafka_metadata(req.rk, 1, null, out, req.timeoutMs);
      if (err !== 0) throw errFromCode(err, "metadata");
      const md = Number(out[0]);
      try {
        return readMetadata(md);
      } finally {
        lib.rd_kafka_metadata_destroy(md);
      }
    }
  }
}

/** struct rd_kafka_metadata: topic_cnt @16, topics @24; topic (32 B): name @0, partition_cnt @8, partitions @16, err @24; partition (40 B): id @0. */
function readMetadata(md: number): Array<{ name: string; partitions: number[]; err: number }> {
  const cnt = read.i32(md as never, 16);
  const topics = read.ptr(md as never, 24);
  const out = [];
  for (let i = 0; i < cnt; i++) {
    const t = topics + i * 32;
    const pcnt = read.i32(t as never, 8);
    const parts = read.ptr(t as never, 16);
    const ids: number[] = [];
    for (let j = 0; j < pcnt; j++) ids.push(read.i32(parts as never, j * 40));
    out.push({ name: readCString(read.ptr(t as never, 0)) ?? "", partitions: ids.sort((a, b) => a - b), err: read.i32(t as never, 24) });
  }
  return out;
}

self.onmessage = (e: MessageEvent<BlockingRequest & { id: number }>) => {
  const { id } = e.data;
  try {
    self.postMessage({ id, ok: true, result: run(e.data) });
  } catch (err) {
    const k = err instanceof KafkaError ? err : null;
    self.postMessage({
      id,
      ok: false,
      error: {
        code: k?.code ?? "_FAIL",
        message: err instanceof Error ? err.message : String(err),
        retriable: k?.retriable ?? false,
        fatal: k?.fatal ?? false,
        errno: k?.errno,
      },
    });
  }
};
