/**
 * Which offsets a replay covers: per partition, [first offset at or after `from`, first offset at or after
 * `to`) via Consumer.offsetsForTimes, clamped to what the broker still holds. Fixed when planned, so a
 * replay of a live topic stops at a known end instead of chasing new messages.
 */
import { Admin, type Consumer } from "../kafka/index.ts";
import type { KafkaConfig } from "../kafka/types.ts";
import type { PartitionWatermarks } from "../audit/retention.ts";
import { usageError } from "../loadgen/cli-flags.ts";
import { rangeSize, type PartitionRange } from "./range-reader.ts";

/** Time bounds in epoch ms; null = the partition's beginning / current end. */
export interface ReplayWindow {
  from: number | null;
  to: number | null;
}

/** The offsets a replay will read. */
export interface ReplayPlan {
  topic: string;
  ranges: PartitionRange[];
  /** Messages in the ranges. */
  messages: number;
  watermarks: PartitionWatermarks[];
}

/** Epoch ms from an RFC 3339 timestamp or an integer of epoch milliseconds; a usage error naming the flag otherwise. */
export function parseTimestamp(value: string, flag: string): number {
  if (/^[0-9]+$/.test(value)) return Number(value);
  const ok = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(value);
  const ms = ok ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) throw usageError(`--${flag} expects an RFC 3339 timestamp (2024-05-01T12:00:00Z) or epoch milliseconds, got "${value}"`);
  return ms;
}

/** Partition ids of `topic` from cluster metadata (empty when the topic does not exist). */
export async function topicPartitions(config: KafkaConfig, topic: string): Promise<number[]> {
  const admin = new Admin({ config });
  try {
    const t = (await admin.listTopics()).find((x) => x.name === topic);
    return t ? [...t.partitions].sort((a, b) => a - b) : [];
  } finally {
    await admin.close();
  }
}

/** Current low and high watermark of each partition. */
export async function watermarksOf(consumer: Consumer, topic: string, partitions: readonly number[]): Promise<PartitionWatermarks[]> {
  return Promise.all(partitions.map(async (partition) => ({ partition, ...(await consumer.watermarks(topic, partition)) })));
}

/** Plans the ranges of `window` over `partitions` (see module doc). */
export async function planReplay(consumer: Consumer, topic: string, partitions: readonly number[], window: ReplayWindow): Promise<ReplayPlan> {
  const watermarks = await watermarksOf(consumer, topic, partitions);
  const offsetsAt = async (ts: number | null, fallback: (w: PartitionWatermarks) => number): Promise<number[]> => {
    if (ts === null) return watermarks.map(fallback);
    const res = await consumer.offsetsForTimes(partitions.map((partition) => ({ topic, partition, timestamp: ts })));
    const byPartition = new Map(res.map((r) => [r.partition, r.offset]));
    // -1: no message at or after ts in that partition, so the bound is the current end.
    return watermarks.map((w) => {
      const o = byPartition.get(w.partition) ?? -1;
      return o < 0 ? w.high : o;
    });
  };
  const starts = await offsetsAt(window.from, (w) => w.low);
  const ends = await offsetsAt(window.to, (w) => w.high);
  const ranges = watermarks.map((w, i) => {
    const start = Math.max(starts[i], w.low); // older messages were deleted by retention
    const end = Math.min(Math.max(ends[i], start), w.high);
    return { partition: w.partition, start, end };
  });
  return { topic, ranges, messages: rangeSize(ranges), watermarks };
}
