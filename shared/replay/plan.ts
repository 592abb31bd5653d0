/**
 * Which offsets a replay covers: per partition, [first offset at or after `from`, first offset at or after
 * `to`) via Consumer.offsetsForTimes, clamped to what the broker still holds. Fixed when planned, so a
 * replay of a live topic stops at a known end instead of chasing new messages.
 */
import type { Consumer } from "../kafka/index.ts";
import type { KafkaConfig } from "../kafka/types.ts";
import type { PartitionWatermarks } from "../topic-reader/metadata.ts";
import { usageError } from "../loadgen/cli-flags.ts";
import { watermarksOf } from "../topic-reader/metadata.ts";
import { rangeSize, type PartitionRange } from "../topic-reader/range-reader.ts";
import { offsetsAtTimes } from "./time-offsets.ts";

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

/** Plans the ranges of `window` over `partitions` (see module doc); `config` connects for timestamp scans. */
export async function planReplay(
  consumer: Consumer,
  config: KafkaConfig,
  topic: string,
  partitions: readonly number[],
  window: ReplayWindow,
): Promise<ReplayPlan> {
  const watermarks = await watermarksOf(consumer, topic, partitions);
  const times = [window.from, window.to].filter((t): t is number => t !== null);
  const found = times.length ? await offsetsAtTimes(consumer, config, topic, watermarks, times) : [];
  const starts = window.from === null ? watermarks.map((w) => w.low) : found[0];
  const ends = window.to === null ? watermarks.map((w) => w.high) : found[times.length - 1];
  const ranges = watermarks.map((w, i) => {
    const start = Math.max(starts[i], w.low); // older messages were deleted by retention
    const end = Math.min(Math.max(ends[i], start), w.high);
    return { partition: w.partition, start, end };
  });
  return { topic, ranges, messages: rangeSize(ranges), watermarks };
}
