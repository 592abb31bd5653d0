/**
 * Offset and watermark questions about partitions: offsetsForTimes, committed, watermarks (queried, on the
 * blocking-call worker) and the fetcher's cached watermarks (no request), and lag built from them.
 */
import { rdkafka } from "../ffi/lib.ts";
import { cstr } from "../ffi/memory.ts";
import type { BlockingCalls } from "../client/blocking.ts";
import { errFromCode } from "../client/rd-errors.ts";
import type { TpEntry } from "../client/tplist.ts";
import type { PartitionLag, TopicPartition, TopicPartitionOffset, WatermarkOffsets } from "../types.ts";

const RD_KAFKA_OFFSET_INVALID = -1001;

/** Offset queries for one consumer handle. */
export class OffsetQueries {
  constructor(
    private readonly rk: number,
    private readonly blocking: BlockingCalls,
  ) {}

  /** For each partition, the earliest offset whose timestamp is >= `timestamp` (-1 when there is none). */
  async offsetsForTimes(tps: ReadonlyArray<TopicPartition & { timestamp: number }>, timeoutMs: number): Promise<TopicPartitionOffset[]> {
    const res = await this.blocking.run({
      op: "offsetsForTimes",
      rk: this.rk,
      tps: tps.map((t) => ({ topic: t.topic, partition: t.partition, offset: t.timestamp })),
      timeoutMs,
    });
    return toOffsets(res, "offsetsForTimes");
  }

  /** The group's committed offsets for `tps` (-1001 where none is committed), with their commit metadata. */
  async committed(tps: readonly TopicPartition[], timeoutMs: number): Promise<TopicPartitionOffset[]> {
    if (tps.length === 0) return [];
    const res = await this.blocking.run({ op: "committed", rk: this.rk, tps: tps.map((t) => ({ topic: t.topic, partition: t.partition })), timeoutMs });
    return toOffsets(res, "committed");
  }

  /** Low and high watermarks queried from the partition leader. */
  watermarks(topic: string, partition: number, timeoutMs: number): Promise<WatermarkOffsets> {
    return this.blocking.run({ op: "watermarks", rk: this.rk, topic, partition, timeoutMs });
  }

  /** Watermarks as last seen by the fetcher, without a request; null while unknown. */
  cachedWatermarks(topic: string, partition: number): WatermarkOffsets | null {
    const low = new BigInt64Array(1);
    const high = new BigInt64Array(1);
    const err = rdkafka().rd_kafka_get_watermark_offsets(this.rk, cstr(topic), partition, low, high);
    if (err !== 0 || high[0] === BigInt(RD_KAFKA_OFFSET_INVALID)) return null;
    return { low: Number(low[0]), high: Number(high[0]) };
  }

  /**
   * Lag of `tps`: high watermark (cached when known, else queried) minus the committed offset; without a
   * committed offset, high minus low (everything still in the log counts).
   */
  async lag(tps: readonly TopicPartition[], timeoutMs: number): Promise<PartitionLag[]> {
    const committed = await this.committed(tps, timeoutMs);
    return Promise.all(
      committed.map(async (c) => {
        const cached = this.cachedWatermarks(c.topic, c.partition);
        const hasCommit = c.offset >= 0;
        const wm = cached && (hasCommit || cached.low >= 0) ? cached : await this.watermarks(c.topic, c.partition, timeoutMs);
        const lag = hasCommit ? Math.max(0, wm.high - c.offset) : Math.max(0, wm.high - Math.max(0, wm.low));
        return { topic: c.topic, partition: c.partition, committed: c.offset, high: wm.high, lag };
      }),
    );
  }
}

function toOffsets(res: TpEntry[], what: string): TopicPartitionOffset[] {
  return res.map((e) => {
    if (e.err !== 0) throw errFromCode(e.err, `${what} ${e.topic}[${e.partition}]`);
    return e.metadata === undefined ? { topic: e.topic, partition: e.partition, offset: e.offset } : { topic: e.topic, partition: e.partition, offset: e.offset, metadata: e.metadata };
  });
}
