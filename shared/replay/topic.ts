/**
 * Reading a whole topic as it is now (every partition from its low to its high watermark) with a throw-away
 * consumer group that never commits: what the audit does with the dead-letter topic.
 */
import { Consumer } from "../kafka/index.ts";
import type { ConsumedMessage, KafkaConfig } from "../kafka/types.ts";
import type { PartitionWatermarks } from "../audit/retention.ts";
import { newRunId } from "../loadgen/random.ts";
import { watermarksOf, topicPartitions } from "./plan.ts";
import { readRanges } from "./range-reader.ts";

export interface ReadWholeTopicOptions {
  /** Connection config (bootstrap.servers and any security properties). */
  config: KafkaConfig;
  topic: string;
  onBatch(messages: ConsumedMessage[]): Promise<void> | void;
  stallTimeoutMs?: number;
}

/** Reads every message the topic holds now; resolves with the watermarks it read between and the count. */
export async function readWholeTopic(o: ReadWholeTopicOptions): Promise<{ watermarks: PartitionWatermarks[]; messages: number }> {
  const partitions = await topicPartitions(o.config, o.topic);
  if (partitions.length === 0) return { watermarks: [], messages: 0 };
  const consumer = new Consumer({
    config: { ...o.config, "group.id": `topofleet-read-${newRunId()}`, "auto.offset.reset": "earliest" },
  });
  try {
    const watermarks = await watermarksOf(consumer, o.topic, partitions);
    const ranges = watermarks.map((w) => ({ partition: w.partition, start: w.low, end: w.high }));
    consumer.subscribe([o.topic]);
    const messages = await readRanges({ consumer, topic: o.topic, ranges, onBatch: o.onBatch, stallTimeoutMs: o.stallTimeoutMs });
    return { watermarks, messages };
  } finally {
    await consumer.close();
  }
}
