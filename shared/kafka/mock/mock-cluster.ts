/**
 * librdkafka's in-process mock Kafka cluster (rdkafka_mock.h), for tests, benchmarks and the demo topology.
 * It speaks the Kafka protocol on localhost ports, so every client connects to it through `bootstraps`
 * exactly as to a real cluster.
 *
 * Retention: each mock partition keeps at most 5 MiB of record batches and 100,000 batches, and silently
 * deletes the oldest beyond that (rdkafka_mock.c, rd_kafka_mock_msgset_new). Size topics with
 * mockPartitionsFor and check `watermarks().low` to detect loss to retention.
 */
import { KafkaError, closedError } from "../errors.ts";
import { rdkafka } from "../ffi/lib.ts";
import { cstr } from "../ffi/memory.ts";
import { BlockingCalls } from "../client/blocking.ts";
import { RD_KAFKA_PRODUCER, createHandle, destroyHandle } from "../client/handle.ts";
import { check } from "../client/rd-errors.ts";
import type { WatermarkOffsets } from "../types.ts";

/** Bytes of record batches a mock partition keeps before deleting the oldest. */
export const MOCK_PARTITION_MAX_BYTES = 5 * 1024 * 1024;
/** Record batches a mock partition keeps (a batch holds one message at worst). */
export const MOCK_PARTITION_MAX_MESSAGES = 100_000;
/** Per-record framing in a v2 record batch (length, attributes, deltas, key/value lengths), rounded up. */
const RECORD_OVERHEAD_BYTES = 32;
/** Fill mock partitions to at most this share, for uneven spreading across partitions. */
const HEADROOM = 0.8;

/**
 * How many mock partitions hold `messages` records of `avgBytes` each (key + value + headers, uncompressed)
 * without retention deleting any, assuming the records spread evenly (the default partitioner with varied
 * or no keys). Records concentrated on few keys need more.
 */
export function mockPartitionsFor(messages: number, avgBytes: number): number {
  if (messages <= 0) return 1;
  const byBytes = (messages * (avgBytes + RECORD_OVERHEAD_BYTES)) / (MOCK_PARTITION_MAX_BYTES * HEADROOM);
  const byCount = messages / (MOCK_PARTITION_MAX_MESSAGES * HEADROOM);
  return Math.max(1, Math.ceil(byBytes), Math.ceil(byCount));
}

export interface MockClusterOptions {
  /** Number of brokers, ids 1..brokers (default 1). */
  brokers?: number;
  topics?: Array<{ name: string; partitions: number }>;
}

/** A running in-process mock cluster. */
export class MockCluster {
  /** Comma-separated host:port list for bootstrap.servers. */
  readonly bootstraps: string;
  private readonly blocking = new BlockingCalls();
  /** A plain client of the mock, for metadata and watermark queries (made on first use). */
  private client = 0;
  private stopped = false;

  private constructor(
    private readonly hostRk: number,
    private readonly mcluster: number,
    readonly brokerCount: number,
  ) {
    this.bootstraps = String(rdkafka().rd_kafka_mock_cluster_bootstraps(mcluster));
  }

  /** Starts a mock cluster with `brokers` brokers and creates `topics`. */
  static async start(opts: MockClusterOptions = {}): Promise<MockCluster> {
    const brokers = opts.brokers ?? 1;
    // rd_kafka_mock_cluster_new needs a handle for its logging and thread plumbing; this one never connects.
    const hostRk = createHandle(RD_KAFKA_PRODUCER, { "log_level": "4" }, 0);
    const mcluster = rdkafka().rd_kafka_mock_cluster_new(hostRk, brokers) as number | null;
    if (!mcluster) {
      await destroyHandle(hostRk);
      throw new KafkaError("_FAIL", `could not start a mock cluster with ${brokers} broker(s)`, { retriable: false });
    }
    const mc = new MockCluster(hostRk, mcluster, brokers);
    for (const t of opts.topics ?? []) mc.createTopic(t.name, t.partitions);
    return mc;
  }

  /** Creates a topic (replication factor at most the broker count). */
  createTopic(name: string, partitions: number, replicationFactor = 1): void {
    this.ensureRunning("createTopic");
    const rf = Math.min(replicationFactor, this.brokerCount);
    check(rdkafka().rd_kafka_mock_topic_create(this.mcluster, cstr(name), partitions, rf), `mock createTopic ${name}`);
  }

  /** Takes broker `id` down: its connections drop and new ones are refused until brokerUp. */
  brokerDown(id: number): void {
    this.ensureRunning("brokerDown");
    check(rdkafka().rd_kafka_mock_broker_set_down(this.mcluster, id), `mock brokerDown ${id}`);
  }

  /** Brings broker `id` back. */
  brokerUp(id: number): void {
    this.ensureRunning("brokerUp");
    check(rdkafka().rd_kafka_mock_broker_set_up(this.mcluster, id), `mock brokerUp ${id}`);
  }

  /** Partition count of `topic` from cluster metadata (0 when the topic does not exist). */
  async partitionCount(topic: string, timeoutMs = 10_000): Promise<number> {
    this.ensureRunning("partitionCount");
    const md = await this.blocking.run({ op: "metadata", rk: this.metadataClient(), timeoutMs });
    const t = md.find((x) => x.name === topic);
    return t && t.err === 0 ? t.partitions.length : 0;
  }

  /**
   * Low and high watermark of a partition. `low > 0` means retention deleted records: anything below
   * `low` that was not consumed yet is gone.
   */
  watermarks(topic: string, partition: number, timeoutMs = 10_000): Promise<WatermarkOffsets> {
    this.ensureRunning("watermarks");
    return this.blocking.run({ op: "watermarks", rk: this.metadataClient(), topic, partition, timeoutMs });
  }

  /** Stops the brokers; clients still connected see transport errors. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.blocking.drain();
    const lib = rdkafka();
    // A blocking call that never returned may still be using the client on its thread: leak it instead.
    if (this.client && !this.blocking.stuck) await destroyHandle(this.client);
    lib.rd_kafka_mock_cluster_destroy(this.mcluster);
    await destroyHandle(this.hostRk);
  }

  private metadataClient(): number {
    if (!this.client) this.client = createHandle(RD_KAFKA_PRODUCER, { "bootstrap.servers": this.bootstraps }, 0);
    return this.client;
  }

  private ensureRunning(what: string): void {
    if (this.stopped) throw closedError(`MockCluster.${what}`);
  }
}
