/**
 * Messages taken off librdkafka's consumer queue but not yet handed to the caller, as raw
 * rd_kafka_message_t pointers (we own each until it is delivered in a ConsumedBatch or destroyed here).
 * Bounded by the consumer: it stops polling when the buffer is full, so librdkafka's own prefetch limits
 * (queued.max.messages.kbytes) keep applying.
 */
import { read } from "bun:ffi";
import { MSG } from "../ffi/memory.ts";

/** FIFO of message pointers with removal by partition (for pause, seek and revocation). */
export class FetchBuffer {
  private items: number[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(m: number): void {
    this.items.push(m);
  }

  /** Removes and returns up to `max` pointers from the front. */
  take(max: number): number[] {
    const end = Math.min(this.items.length, this.head + max);
    const out = this.items.slice(this.head, end);
    this.head = end;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 65536 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  /** Puts `ms` back at the front, before everything buffered (they are older). */
  unshift(ms: number[]): void {
    if (ms.length === 0) return;
    this.items = ms.concat(this.items.slice(this.head));
    this.head = 0;
  }

  /**
   * Moves (in order) every pointer for which `into(rkt, partition)` names a list into that list; keeps the
   * others. `into` is asked once per run of messages of the same partition.
   */
  extractInto(into: (rkt: number, partition: number) => number[] | undefined): void {
    const keep: number[] = [];
    let lastRkt = -1;
    let lastPartition = -1;
    let target: number[] | undefined;
    for (let i = this.head; i < this.items.length; i++) {
      const m = this.items[i];
      const rkt = read.ptr(m as never, MSG.rkt);
      const partition = read.i32(m as never, MSG.partition);
      if (rkt !== lastRkt || partition !== lastPartition) {
        lastRkt = rkt;
        lastPartition = partition;
        target = into(rkt, partition);
      }
      (target ?? keep).push(m);
    }
    this.items = keep;
    this.head = 0;
  }

  /** Removes and returns everything. */
  takeAll(): number[] {
    return this.take(this.size);
  }
}
