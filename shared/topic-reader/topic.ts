/**
 * Reading fixed offset ranges of a topic with a throw-away consumer group: the group's offsets are committed
 * at the ranges' starts before it subscribes (so it starts exactly there), and it is never used again.
 * The audit reads the dead-letter topic this way; replay planning reads timestamps this way when the broker
 * cannot look offsets up by time. It sits apart from both (shared/topic-reader) so neither imports the other.
 */
import { Consumer } from "../kafka/index.ts";
import type { ConsumedMessage, KafkaConfig } from "../kafka/types.ts";
import { newRunId } from "../loadgen/random.ts";
import { watermarksOf, topicPartitions, type PartitionWatermarks } from "./metadata.ts";
import { readRanges, type PartitionRange } from "./range-reader.ts";

export interface ReadTopicOptions {
  /** Connection config (bootstrap.servers and any security properties). */
  config: KafkaConfig;
  topic: string;
  onBatch(messages: ConsumedMessage[]): Promise<void> | void;
  stallTimeoutMs?: number;
}

/** Reads `ranges` of the topic (see module doc); resolves with the number of messages delivered. */
export async function readTopicRanges(o: ReadTopicOptions & { ranges: readonly PartitionRange[] }): Promise<number> {
  const open = o.ranges.filter((r) => r.end > r.start);
  if (open.length === 0) return 0;
  const consumer = new Consumer({ config: { ...o.config, "group.id": `topofleet-read-${newRunId()}`, "auto.offset.reset": "earliest" } });
  try {
    await consumer.commit(
      open.map((r) => ({ topic: o.topic, partition: r.partition, offset: r.start })),
      { sync: true },
    );
    consumer.subscribe([o.topic]);
    return await readRanges({ consumer, topic: o.topic, ranges: open, onBatch: o.onBatch, stallTimeoutMs: o.stallTimeoutMs });
  } finally {
    await consumer.close();
  }
}

/** Reads every message the topic holds now; resolves with the watermarks it read between and the count. */
export async function readWholeTopic(o: ReadTopicOptions): Promise<{ watermarks: PartitionWatermarks[]; messages: number }> {
  const partitions = await topicPartitions(o.config, o.topic);
  if (partitions.length === 0) return { watermarks: [], messages: 0 };
  const probe = new Consumer({ config: { ...o.config, "group.id": `topofleet-read-${newRunId()}` } });
  const watermarks = await watermarksOf(probe, o.topic, partitions).finally(() => probe.close());
  const ranges = watermarks.map((w) => ({ partition: w.partition, start: w.low, end: w.high }));
  const messages = await readTopicRanges({ ...o, ranges });
  return { watermarks, messages };
}
