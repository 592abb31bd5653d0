/**
 * Offsets by timestamp: for each partition, the first offset whose record timestamp is >= ts.
 *
 * Consumer.offsetsForTimes asks the broker (ListOffsets by timestamp). A real broker answers -1 only when no
 * record is that recent; librdkafka's mock cluster answers -1 always (its ListOffsets handler does not look up timestamps).
 * So a -1 for a non-empty partition is checked against the partition's last record: if that record is at
 * or after ts, the broker could not answer, and the partition is scanned instead (linear, read once for
 * every timestamp asked). On a real broker the check costs one read of the last record, and only when the
 * window starts after everything in the partition.
 */
import type { Consumer } from "../kafka/index.ts";
import type { KafkaConfig } from "../kafka/types.ts";
import type { PartitionWatermarks } from "../topic-reader/metadata.ts";
import { readTopicRanges } from "../topic-reader/topic.ts";

/** For each timestamp, for each partition (in `watermarks` order): the first offset at or after it, else the high watermark. */
export async function offsetsAtTimes(
  consumer: Consumer,
  config: KafkaConfig,
  topic: string,
  watermarks: readonly PartitionWatermarks[],
  timestamps: readonly number[],
): Promise<number[][]> {
  const answers: number[][] = [];
  for (const ts of timestamps) {
    const res = await consumer.offsetsForTimes(watermarks.map((w) => ({ topic, partition: w.partition, timestamp: ts })));
    const byPartition = new Map(res.map((r) => [r.partition, r.offset]));
    answers.push(watermarks.map((w) => byPartition.get(w.partition) ?? -1));
  }
  const unanswered = watermarks.filter((w, i) => w.high > w.low && answers.some((a) => a[i] < 0));
  if (unanswered.length) {
    const last = new Map<number, number>();
    await readTopicRanges({
      config,
      topic,
      ranges: unanswered.map((w) => ({ partition: w.partition, start: w.high - 1, end: w.high })),
      onBatch: (ms) => ms.forEach((m) => last.set(m.partition, m.timestamp)),
    });
    const toScan = unanswered.filter((w) => timestamps.some((ts, t) => answers[t][watermarks.indexOf(w)] < 0 && (last.get(w.partition) ?? -1) >= ts));
    if (toScan.length) await scan(config, topic, watermarks, toScan, timestamps, answers);
  }
  return answers.map((a) => a.map((o, i) => (o < 0 ? watermarks[i].high : o)));
}

/** Fills the -1 answers of `partitions` by reading them from their low watermark. */
async function scan(
  config: KafkaConfig,
  topic: string,
  watermarks: readonly PartitionWatermarks[],
  partitions: readonly PartitionWatermarks[],
  timestamps: readonly number[],
  answers: number[][],
): Promise<void> {
  const index = new Map(watermarks.map((w, i) => [w.partition, i]));
  const found = new Map<string, number>(); // "t:i" -> first offset seen at or after timestamps[t]
  await readTopicRanges({
    config,
    topic,
    ranges: partitions.map((w) => ({ partition: w.partition, start: w.low, end: w.high })),
    onBatch: (ms) => {
      for (const m of ms) {
        const i = index.get(m.partition)!;
        for (let t = 0; t < timestamps.length; t++) {
          const k = `${t}:${i}`;
          if (answers[t][i] < 0 && m.timestamp >= timestamps[t] && !found.has(k)) found.set(k, m.offset);
        }
      }
    },
  });
  for (const [k, offset] of found) {
    const [t, i] = k.split(":").map(Number);
    answers[t][i] = offset;
  }
}
