/**
 * Turns consume calls into pipeline batches of at most `maxEvents` records and `maxBytes` payload bytes,
 * waiting at most `maxWaitMs` after the first record to fill one.
 *
 * Memory ownership: a ConsumedBatch's keys and values are views into librdkafka's messages, valid only
 * until `release()`. Every consumed batch is packed (copied) into the RecordBatch and released before
 * `next()` returns, so no view ever outlives this module. The only exception is the carry-over: records
 * that arrived beyond the byte limit are copied out of librdkafka at once (so their messages can be
 * released too) and start the next batch. The carry-over is at most one consume call's worth.
 */
import type { ConsumedBatch, ConsumedMessage } from "../../kafka/types.ts";
import { detachMessage } from "../../kafka/consumer/detach.ts";
import { KafkaMessage } from "../../kafka/consumer/message-reader.ts";
import type { RecordBatch } from "../../stages/batch.ts";
import { packRecords, type RecordInput } from "../../stages/records.ts";

/** The consume call the fetcher needs (the binding's Consumer.consume). */
export interface BatchSource {
  consume(maxMessages: number, timeoutMs: number): Promise<ConsumedBatch>;
}

/** Batch limits (topology `batch`). */
export interface BatchLimits {
  maxEvents: number;
  maxBytes: number;
  maxWaitMs: number;
}

/** What to do with a consumed record's partition: keep it, or drop it (its partition is being revoked). */
export type Admit = (topic: string, partition: number) => boolean;

/** A record's payload bytes; the binding's KafkaMessage tells without making views of its bytes. */
const recordBytes = (m: RecordInput): number =>
  m instanceof KafkaMessage ? m.valueSize + m.keySize : ((m.value as Uint8Array | null)?.byteLength ?? 0) + ((m.key as Uint8Array | null)?.byteLength ?? 0);

/** Collects consume calls into RecordBatches within the configured limits. */
export class BatchFetcher {
  /** Records held over from the last consume call (already copied out of librdkafka). */
  private carry: RecordInput[] = [];
  /** The batch being filled: views into consumed batches that are released when next() returns. */
  private filling: RecordInput[] = [];
  private fillingBytes = 0;
  /** Average record size seen so far, to size consume calls so they rarely overshoot maxBytes. */
  private avgBytes = 0;
  /**
   * The last admit() verdict, reused while records of the same partition follow (they come in runs). Only
   * valid within one synchronous pass: ownership changes only across awaits, so it is reset after each.
   */
  private memoTopic: string | null = null;
  private memoPartition = -1;
  private memoAdmitted = false;
  /** Records dropped because their partition was not admitted (for logs and tests). */
  dropped = 0;

  constructor(
    private readonly source: BatchSource,
    private readonly limits: BatchLimits,
    private readonly admit: Admit,
  ) {}

  /** Records held over from the last consume call. */
  get carried(): number {
    return this.carry.length;
  }

  /**
   * The next batch, or null when nothing arrived within one wait period (or `stopped()` turned true).
   * Never waits longer than about `maxWaitMs` once it holds a record. Not re-entrant: one call at a time.
   */
  async next(stopped: () => boolean = () => false): Promise<RecordBatch | null> {
    const { maxEvents, maxBytes, maxWaitMs } = this.limits;
    const held: ConsumedBatch[] = [];
    this.memoTopic = null;
    this.filling = [];
    this.fillingBytes = 0;
    // Carried records go first: they were delivered before anything consumed now.
    const carried = this.carry;
    this.carry = [];
    for (const m of carried) this.place(m, recordBytes(m), false);
    let deadline = this.filling.length > 0 ? performance.now() + maxWaitMs : 0;
    try {
      while (this.carry.length === 0 && this.filling.length < maxEvents && this.fillingBytes < maxBytes && !stopped()) {
        const wait = deadline ? deadline - performance.now() : maxWaitMs;
        if (deadline && wait <= 0) break;
        const got = await this.source.consume(this.request(maxEvents - this.filling.length, maxBytes - this.fillingBytes), Math.ceil(wait));
        held.push(got);
        this.memoTopic = null;
        for (const m of got.messages) {
          const size = recordBytes(m);
          this.avgBytes = this.avgBytes === 0 ? size : this.avgBytes * 0.95 + size * 0.05;
          this.place(m, size, true);
        }
        if (this.filling.length > 0 && !deadline) deadline = performance.now() + maxWaitMs;
        if (!deadline) break; // an idle wait period: let the caller check its state
      }
      return this.filling.length ? packRecords(this.filling) : null;
    } finally {
      // The pack above copied every byte we keep: the librdkafka messages can go now.
      this.filling = [];
      for (const b of held) b.release();
    }
  }

  /**
   * Drops the records of partitions no longer admitted (a revocation started), both from the carry-over and
   * from the batch being filled, so that no record delivered under an old assignment is processed under a
   * new one. Returns how many were dropped.
   */
  purge(): number {
    this.memoTopic = null;
    const before = this.carry.length + this.filling.length;
    this.carry = this.carry.filter((m) => this.admit(m.topic, m.partition));
    this.filling = this.filling.filter((m) => this.admit(m.topic, m.partition));
    this.fillingBytes = this.filling.reduce((n, m) => n + recordBytes(m), 0);
    const n = before - this.carry.length - this.filling.length;
    this.dropped += n;
    return n;
  }

  /** Adds a record to the batch being filled, or to the carry-over once a limit is reached. */
  private place(m: RecordInput | ConsumedMessage, size: number, fromLibrdkafka: boolean): void {
    if (m.topic !== this.memoTopic || m.partition !== this.memoPartition) {
      this.memoTopic = m.topic;
      this.memoPartition = m.partition;
      this.memoAdmitted = this.admit(m.topic, m.partition);
    }
    if (!this.memoAdmitted) {
      this.dropped++;
      return;
    }
    const { maxEvents, maxBytes } = this.limits;
    // Over a limit: hold the rest for the next batch (a single record larger than maxBytes still forms a
    // batch of its own). Order is kept: once something is carried, everything after it is carried too.
    if (this.carry.length > 0 || (this.filling.length > 0 && (this.filling.length >= maxEvents || this.fillingBytes + size > maxBytes))) {
      this.carry.push(fromLibrdkafka ? detachMessage(m as ConsumedMessage) : (m as RecordInput));
    } else {
      this.filling.push(m as RecordInput);
      this.fillingBytes += size;
    }
  }

  /** How many messages to ask for: the event room, trimmed to what the byte room likely holds. */
  private request(eventRoom: number, byteRoom: number): number {
    if (this.avgBytes <= 0) return eventRoom;
    return Math.max(1, Math.min(eventRoom, Math.ceil(byteRoom / this.avgBytes)));
  }
}
