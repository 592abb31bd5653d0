/**
 * The unit of work that flows through the stages of one worker.
 *
 * A batch is born from one Kafka consume call: the engine copies every message's key, value and headers
 * out of librdkafka's memory into packed buffers (`RecordBatch`) and destroys the messages at once, so no
 * stage ever holds a pointer into librdkafka. The packed buffers are what crosses to the enrich threads.
 *
 * Every record index i in [0, size) ends in exactly one terminal status; the engine commits a record's
 * offset only when its status is terminal and the dead-letter copy (if any) has been acknowledged by Kafka.
 */
import { applyEventPatch, type EventPatch } from "./event-patch.ts";
import type { EnrichedEvents, HeaderList, RecordBatch } from "./batch-data.ts";

export type { EnrichedEvents, HeaderList, RecordBatch } from "./batch-data.ts";

/** Terminal state of each event of a batch. */
export const EventStatus = {
  /** Still flowing through the stages. */
  Live: 0,
  /** Durably stored by a sink (the persist stage, or a custom sink). */
  Persisted: 1,
  /** Dropped as a duplicate of an event already stored (or earlier in the same batch). */
  Duplicate: 2,
  /** Rejected; the engine sends the original record to the dead-letter topic with the reason in headers. */
  DeadLettered: 3,
  /**
   * Not terminal: held back by a stage that holds events (the limit stage's `delay` policy, see HoldingStage).
   * Later stages skip it; the engine waits for the holder to set it Live again and runs the stages after the
   * holder for it, so the batch (and its offsets) completes only when every held event has gone through.
   */
  Held: 4,
  /** Dropped on purpose by a stage's rule (the filter stage): counted, never stored nor dead-lettered. */
  Filtered: 5,
} as const;
export type EventStatus = (typeof EventStatus)[keyof typeof EventStatus];

/** Why one event was rejected; becomes the `topofleet-*` headers of its dead-letter copy. */
export interface Rejection {
  /** Stage that rejected it: "enrich", "dedupe", "persist", or a custom stage's name. */
  stage: string;
  /** Stable code, e.g. CE_MISSING_ATTRIBUTE, CE_BAD_JSON, CE_BAD_TIME, PG_23514, USER_MODULE_THREW. */
  code: string;
  /** Human-readable reason naming the attribute or constraint. */
  reason: string;
}

let nextBatchId = 1;

/** One consume call's worth of events and their fates. */
export class Batch {
  readonly id = nextBatchId++;
  readonly status: Uint8Array;
  readonly rejections = new Map<number, Rejection>();
  /** Set by the enrich stage; stages after it may rely on it being present. */
  events: EnrichedEvents | null = null;
  /**
   * Events changed after enrich (updateEvent): their thread-encoded rows (copyBytes, jsonBytes) are stale,
   * and every sink encodes them again from the columns.
   */
  readonly dirty = new Set<number>();
  /** Wall-clock start, for the batch latency histogram. */
  readonly startedAt = performance.now();

  constructor(readonly records: RecordBatch) {
    this.status = new Uint8Array(records.size);
  }

  get size(): number {
    return this.records.size;
  }

  /** Indexes of events still live, in record order. */
  liveIndexes(): number[] {
    const out: number[] = [];
    const s = this.status;
    for (let i = 0; i < s.length; i++) if (s[i] === EventStatus.Live) out.push(i);
    return out;
  }

  /** Number of events with the given status. */
  count(status: EventStatus): number {
    let n = 0;
    for (let i = 0; i < this.status.length; i++) if (this.status[i] === status) n++;
    return n;
  }

  /**
   * Changes enriched event i (a stage after enrich; see event-patch.ts for what may change) and marks it
   * dirty so that every sink writes the changed event. Throws a TypeError for a malformed patch.
   */
  updateEvent(i: number, patch: EventPatch): void {
    if (!this.events) throw new TypeError(`updateEvent(${i}): batch ${this.id} has no enriched events (no enrich stage before this one)`);
    if (this.status[i] !== EventStatus.Live) throw new TypeError(`updateEvent(${i}): the event is no longer live`);
    applyEventPatch(this.events, i, patch);
    this.dirty.add(i);
  }

  /** Marks a live event as rejected; it will be dead-lettered with `rejection` in its headers. */
  reject(i: number, rejection: Rejection): void {
    this.status[i] = EventStatus.DeadLettered;
    this.rejections.set(i, rejection);
  }

  /** Marks a live event as a duplicate (dropped, counted). */
  markDuplicate(i: number): void {
    this.status[i] = EventStatus.Duplicate;
  }

  /** Marks a live event as dropped on purpose by a filter rule (counted as filtered). */
  markFiltered(i: number): void {
    this.status[i] = EventStatus.Filtered;
  }

  /** Holds a live event back (see EventStatus.Held). */
  hold(i: number): void {
    this.status[i] = EventStatus.Held;
  }

  /** Lets a held event flow again. */
  unhold(i: number): void {
    if (this.status[i] === EventStatus.Held) this.status[i] = EventStatus.Live;
  }

  /** Marks a live event as durably stored. */
  markPersisted(i: number): void {
    this.status[i] = EventStatus.Persisted;
  }

  /** True when every event reached a terminal status. */
  isSettled(): boolean {
    return !this.status.includes(EventStatus.Live) && !this.status.includes(EventStatus.Held);
  }

  /** The raw value bytes of record i (a view into the batch's packed buffer), or null. */
  value(i: number): Uint8Array | null {
    const r = this.records;
    return r.valueNull[i] ? null : r.values.subarray(r.valueStarts[i], r.valueStarts[i + 1]);
  }

  /** The raw key bytes of record i, or null. */
  key(i: number): Uint8Array | null {
    const r = this.records;
    return r.keyNull[i] ? null : r.keys.subarray(r.keyStarts[i], r.keyStarts[i + 1]);
  }
}
