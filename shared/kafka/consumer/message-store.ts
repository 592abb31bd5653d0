/**
 * Every librdkafka message the consumer owns and where it is: buffered (taken off the queue, not yet
 * delivered), held (buffered for a paused partition), or delivered in a ConsumedBatch not yet released.
 * Each message is destroyed exactly once: by ConsumedBatch.release(), by discard / dropPartitions (seek,
 * revocation), or by destroyAll (close).
 */
import { read } from "bun:ffi";
import { rdkafka } from "../ffi/lib.ts";
import { MSG } from "../ffi/memory.ts";
import { splitTpKey, tpKey } from "../client/tplist.ts";
import type { ConsumedBatch, ConsumedMessage } from "../types.ts";
import { FetchBuffer } from "./fetch-buffer.ts";
import { TopicNames, readMessages, type MessageBytes } from "./message-reader.ts";
import { MessageInternals } from "./message-internals.ts";
import type { KafkaError } from "../errors.ts";

/** A batch whose messages are destroyed exactly once, by release() or by MessageStore.destroyAll(). */
class Batch implements ConsumedBatch {
  constructor(
    readonly messages: ConsumedMessage[],
    private ptrs: number[] | null,
    private readonly live: Set<Batch>,
    private readonly bytes: MessageBytes | null = null,
  ) {
    if (ptrs && ptrs.length) live.add(this);
  }

  release(): void {
    const ptrs = this.ptrs;
    if (!ptrs) return;
    this.ptrs = null;
    this.live.delete(this);
    // Before the destroy: from now on the messages' key, value and headers throw instead of reading freed memory.
    if (this.bytes) this.bytes.released = true;
    destroy(ptrs);
  }

  get size(): number {
    return this.ptrs ? this.ptrs.length : 0;
  }
}

function destroy(ms: readonly number[]): void {
  const lib = rdkafka();
  for (let i = 0; i < ms.length; i++) lib.rd_kafka_message_destroy(ms[i]);
}

/** Owner of the consumer's undelivered and delivered-but-unreleased messages. */
export class MessageStore {
  readonly topics = new TopicNames();
  private readonly internals: MessageInternals;
  private readonly buffer = new FetchBuffer();
  /** Buffered messages of paused partitions by "topic:partition", in order. */
  private readonly held = new Map<string, number[]>();
  /** Partitions paused by the caller ("topic:partition"). */
  private readonly paused = new Set<string>();
  private readonly live = new Set<Batch>();

  /** `onLayoutMismatch`: told once if librdkafka's private message struct is not what MessageInternals reads. */
  constructor(onLayoutMismatch?: (err: KafkaError) => void) {
    this.internals = new MessageInternals(onLayoutMismatch);
  }

  /** Messages waiting for delivery (not counting held ones). */
  get buffered(): number {
    return this.buffer.size;
  }

  /** Every message owned: buffered, held, or in unreleased batches. */
  get outstanding(): number {
    let n = this.buffer.size;
    for (const h of this.held.values()) n += h.length;
    for (const b of this.live) n += b.size;
    return n;
  }

  /**
   * Takes ownership of a message just polled off the queue. librdkafka's pause bumps the partition's
   * version so fetched-before-pause messages are dropped at poll time; a message of a paused partition that
   * still arrives is held all the same, never delivered while paused.
   */
  push(m: number): void {
    if (this.paused.size > 0) {
      const k = this.keyOf(m);
      if (this.paused.has(k)) return this.holdOne(k, m);
    }
    this.buffer.push(m);
  }

  /** Delivers up to `max` buffered messages as a batch (empty batch when none). */
  take(max: number): ConsumedBatch {
    if (this.buffer.size === 0) return new Batch([], null, this.live);
    const ptrs = this.buffer.take(max);
    const { messages, bytes } = readMessages(ptrs, this.topics, this.internals);
    return new Batch(messages, ptrs, this.live, bytes);
  }

  /** Pauses `keys`: their buffered messages (and any that still arrive) wait until unhold. */
  hold(keys: ReadonlySet<string>): void {
    if (keys.size === 0) return;
    for (const k of keys) this.paused.add(k);
    // One lookup per message by (topic handle, partition) into the held lists: no per-message key string.
    const lists = new Map<number, Map<number, number[]>>();
    const listOf = (rkt: number, partition: number): number[] | undefined => {
      let byPartition = lists.get(rkt);
      if (!byPartition) {
        lists.set(rkt, (byPartition = new Map()));
        const topic = this.topics.get(rkt);
        for (const k of keys) {
          const [t, p] = splitTpKey(k);
          if (t !== topic) continue;
          let list = this.held.get(k);
          if (!list) this.held.set(k, (list = []));
          byPartition.set(p, list);
        }
      }
      return byPartition.get(partition);
    };
    this.buffer.extractInto(listOf);
  }

  private holdOne(k: string, m: number): void {
    let list = this.held.get(k);
    if (!list) this.held.set(k, (list = []));
    list.push(m);
  }

  /** Puts held messages of `keys` back in front of the buffer (resume); returns how many. */
  unhold(keys: ReadonlySet<string>): number {
    const back: number[] = [];
    for (const k of keys) {
      this.paused.delete(k);
      const list = this.held.get(k);
      if (!list) continue;
      this.held.delete(k);
      back.push(...list);
    }
    this.buffer.unshift(back);
    return back.length;
  }

  /** Destroys undelivered (buffered and held) messages of `keys`; a paused partition stays paused (seek). */
  discard(keys: ReadonlySet<string>): void {
    destroy(this.extract(keys));
    for (const k of keys) {
      const h = this.held.get(k);
      if (h) destroy(h);
      this.held.delete(k);
    }
  }

  /** Forgets partitions that are no longer owned (revocation): their undelivered messages and pause state. */
  dropPartitions(keys: ReadonlySet<string>): void {
    this.discard(keys);
    for (const k of keys) this.paused.delete(k);
  }

  /** Forgets every partition (rebalance error, close): destroys all undelivered messages, clears pauses. */
  dropUndelivered(): void {
    destroy(this.buffer.takeAll());
    for (const h of this.held.values()) destroy(h);
    this.held.clear();
    this.paused.clear();
  }

  /** Destroys everything, releasing unreleased batches too (close): their views become invalid. */
  destroyAll(): void {
    this.dropUndelivered();
    for (const b of [...this.live]) b.release();
  }

  private keyOf(m: number): string {
    return tpKey(this.topics.get(read.ptr(m as never, MSG.rkt)), read.i32(m as never, MSG.partition));
  }

  private extract(keys: ReadonlySet<string>): number[] {
    const out: number[] = [];
    const match = new Map<number, Set<number>>();
    this.buffer.extractInto((rkt, partition) => {
      let ps = match.get(rkt);
      if (!ps) {
        const topic = this.topics.get(rkt);
        match.set(rkt, (ps = new Set()));
        for (const k of keys) {
          const [t, p] = splitTpKey(k);
          if (t === topic) ps.add(p);
        }
      }
      return ps.has(partition) ? out : undefined;
    });
    return out;
  }
}
