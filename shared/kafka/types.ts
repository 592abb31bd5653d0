/**
 * Public surface of topofleet's librdkafka binding (shared/kafka). The runtime, the load generator and
 * the tests use only these types; the FFI details stay inside shared/kafka.
 */

/** librdkafka configuration properties, verbatim (e.g. {"bootstrap.servers": "...", "compression.type": "lz4"}). */
export type KafkaConfig = Record<string, string>;

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface TopicPartitionOffset extends TopicPartition {
  /** An absolute offset, or a logical one: -2 beginning, -1 end, -1001 invalid/stored. */
  offset: number;
  /** Commit metadata: stored with a committed offset, returned by committed() (absent when empty). */
  metadata?: string;
}

/** One message to produce. */
export interface ProduceRecord {
  topic: string;
  value: Uint8Array | string | null;
  key?: Uint8Array | string | null;
  /** Explicit partition; omitted means the configured partitioner (by key) decides. */
  partition?: number;
  headers?: Array<[string, Uint8Array | string | null]>;
  /** Epoch ms; omitted means now. */
  timestamp?: number;
}

/**
 * One consumed message. `value` and `key` are zero-copy views into librdkafka's memory: valid only until
 * the ConsumedBatch they came from is released (ConsumedBatch.release()). Copy what you keep.
 */
export interface ConsumedMessage {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number; // epoch ms, -1 when absent
  key: Uint8Array | null;
  value: Uint8Array | null;
  /**
   * Null when the message has none. Decoded on first read, with the values copied out (not views): read them
   * before the batch is released (like key and value); what was read stays valid after.
   */
  headers: Array<[string, Uint8Array | null]> | null;
}

/** Messages of one consume call; must be released exactly once (destroys the librdkafka messages). */
export interface ConsumedBatch {
  messages: ConsumedMessage[];
  release(): void;
}

/** Partition ownership changes, already applied (eager) or being applied (cooperative). */
export interface RebalanceEvent {
  protocol: "eager" | "cooperative";
  type: "assigned" | "revoked";
  partitions: TopicPartition[];
  /** Set on "revoked" when the partitions were lost (session timeout, fenced): commits for them will fail. */
  lost?: boolean;
}

export interface ConsumerOptions {
  /** Full librdkafka config: must include bootstrap.servers and group.id. enable.auto.commit is forced off. */
  config: KafkaConfig;
  /** Called for every assignment change. For "revoked", the revocation completes only after the promise settles,
   * so the caller can finish or abandon in-flight work for those partitions and commit what is done. */
  onRebalance?: (e: RebalanceEvent) => void | Promise<void>;
  /** Non-fatal client errors (broker down, transport) are reported here; fatal ones also reject pending calls. */
  onError?: (err: Error) => void;
}

export interface WatermarkOffsets {
  low: number;
  high: number;
}

export interface ProducerOptions {
  /** Full librdkafka config: must include bootstrap.servers. Delivery reports are always enabled (event API). */
  config: KafkaConfig;
  /** Client-level errors (broker down, transport, fatal idempotence errors) are reported here. */
  onError?: (err: Error) => void;
}

export interface AdminOptions {
  /** librdkafka config: must include bootstrap.servers. */
  config: KafkaConfig;
}

/** A topic to create with Admin.createTopics. */
export interface NewTopicSpec {
  name: string;
  partitions: number;
  /** Default 1 (the mock cluster and single-broker setups). */
  replicationFactor?: number;
  /** Topic-level configs, e.g. {"retention.ms": "3600000"}. */
  configs?: Record<string, string>;
}

/** A topic as listed from cluster metadata. */
export interface TopicMetadata {
  name: string;
  partitions: number[];
}

/** Consumer lag of one assigned partition: high watermark minus committed offset. */
export interface PartitionLag extends TopicPartition {
  /** Committed offset (next to consume); -1001 when the group has none. */
  committed: number;
  high: number;
  /** high - committed, or high - low when nothing is committed yet. */
  lag: number;
}
