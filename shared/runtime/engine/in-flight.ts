/**
 * The bounded set of batches between consume and commit. The engine never consumes while the set is full,
 * so an overflow can only be an engine bug: it fails loudly (RUNTIME_QUEUE_FULL) instead of growing.
 */
import { RuntimeError } from "../../errors/index.ts";
import type { Batch } from "../../stages/batch.ts";
import type { SegmentHandle } from "./offset-tracker.ts";

/** One partition's share of a batch: its tracker handle and the record indexes it covers. */
export interface BatchSegment {
  handle: SegmentHandle;
  indexes: number[];
}

/** A batch in flight. */
export interface InFlightBatch {
  batch: Batch;
  segments: BatchSegment[];
  /** tpKey of every partition the batch holds records of. */
  partitions: Set<string>;
  /** Aborted when the batch is abandoned (its retry loops stop; nothing of it is committed). */
  abort: AbortController;
  abandoned: boolean;
  /** Settles (never rejects) when the batch's pipeline ended, whatever the outcome. */
  settled: Promise<void>;
}

/** Batches in flight, at most `limit` of them. */
export class InFlightBatches {
  private readonly entries = new Set<InFlightBatch>();
  private waiters: Array<() => void> = [];

  constructor(readonly limit: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** True when no further batch may start. */
  get full(): boolean {
    return this.entries.size >= this.limit;
  }

  /** Adds a batch; throws RUNTIME_QUEUE_FULL when the limit is already reached. */
  add(e: InFlightBatch): void {
    if (this.entries.size >= this.limit) {
      throw new RuntimeError("RUNTIME_QUEUE_FULL", `in-flight batch limit ${this.limit} exceeded (engine bug: it consumed while full)`, {
        retriable: false,
        context: { limit: this.limit },
      });
    }
    this.entries.add(e);
  }

  /** Removes a batch and wakes whoever waits for a change. */
  delete(e: InFlightBatch): void {
    if (this.entries.delete(e)) this.notify();
  }

  /** Wakes the waiters without a change (e.g. the engine is stopping). */
  notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves at the next delete() or notify(). */
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Batches holding records of any of the given partitions (by tpKey). */
  touching(keys: ReadonlySet<string>): InFlightBatch[] {
    return [...this.entries].filter((e) => [...e.partitions].some((k) => keys.has(k)));
  }

  /** Every batch in flight. */
  all(): InFlightBatch[] {
    return [...this.entries];
  }
}
