/** Partition ids and watermarks of a topic. */
import { Admin, type Consumer } from "../kafka/index.ts";
import type { KafkaConfig } from "../kafka/types.ts";

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

/** Low and high watermark of one partition. */
export interface PartitionWatermarks {
  partition: number;
  low: number;
  high: number;
}
