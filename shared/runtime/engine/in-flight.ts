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

/**
 * Batches in flight, at most `limit` of them fresh from consumption. A batch that once waited for events held by
 * a stage (the limit stage's `delay`) is a held batch from then on: it stays in flight (tracked, revoked,
 * abandoned like any other) but no longer counts against `limit`, also while it runs its released events, so
 * held events of one tenant never stop the others and a release can never overflow the limit. Held batches and
 * their held events are bounded by the engine separately (it pauses consumption past the holder's bounds).
 */
export class InFlightBatches {
  private readonly entries = new Set<InFlightBatch>();
  /** Held batches and how many events each holds now (0 while it runs its released events). */
  private readonly held = new Map<InFlightBatch, number>();
  private heldTotal = 0;
  private waiters: Array<() => void> = [];

  constructor(readonly limit: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** Held batches (see the class comment). */
  get heldBatches(): number {
    return this.held.size;
  }

  /** Events held by held batches. */
  get heldEvents(): number {
    return this.heldTotal;
  }

  /** True when no further batch may start. */
  get full(): boolean {
    return this.entries.size - this.held.size >= this.limit;
  }

  /** Records that a batch holds `held` events (0: it runs its released ones); wakes the waiters. */
  setHeld(e: InFlightBatch, held: number): void {
    if (!this.entries.has(e)) return;
    this.heldTotal += held - (this.held.get(e) ?? 0);
    this.held.set(e, held);
    this.notify();
  }

  /** Adds a batch; throws RUNTIME_QUEUE_FULL when the limit is already reached. */
  add(e: InFlightBatch): void {
    if (this.full) {
      throw new RuntimeError("RUNTIME_QUEUE_FULL", `in-flight batch limit ${this.limit} exceeded (engine bug: it consumed while full)`, {
        retriable: false,
        context: { limit: this.limit },
      });
    }
    this.entries.add(e);
  }

  /** Removes a batch and wakes whoever waits for a change. */
  delete(e: InFlightBatch): void {
    this.heldTotal -= this.held.get(e) ?? 0;
    this.held.delete(e);
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
