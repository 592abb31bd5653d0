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

/** Kafka record headers as received (values are copies, safe to keep). */
export type HeaderList = Array<[name: string, value: Uint8Array | null]>;

/**
 * Records of one consume call in packed, transferable form. Record i's value is
 * `values.subarray(valueStarts[i], valueStarts[i + 1])`; a null value has `valueNull[i] === 1`.
 * Same layout for keys. `valueStarts` / `keyStarts` have `size + 1` entries.
 */
export interface RecordBatch {
  size: number;
  topics: string[]; // distinct topics in this batch
  topicIndex: Uint16Array; // record -> index into `topics`
  partitions: Int32Array;
  offsets: Float64Array; // Kafka offsets fit a double exactly up to 2^53
  timestamps: Float64Array; // Kafka message timestamp, epoch ms; -1 when absent
  values: Uint8Array;
  valueStarts: Uint32Array;
  valueNull: Uint8Array;
  keys: Uint8Array;
  keyStarts: Uint32Array;
  keyNull: Uint8Array;
  /** Per-record headers, or null when the record had none (most records, in structured mode). */
  headers: Array<HeaderList | null>;
  /** Total payload bytes (values + keys), for batching and metrics. */
  bytes: number;
}

/**
 * Enriched events, one column per attribute, indexed by record index. Rows of records that enrich
 * rejected hold empty strings / NaN and must not be read (their status is DeadLettered).
 */
export interface EnrichedEvents {
  id: string[];
  source: string[];
  type: string[];
  subject: Array<string | null>;
  /** Event time (epoch ms): the CloudEvents `time`, else the Kafka timestamp, else ingest time. Stable on replay. */
  time: Float64Array;
  /** `time` as an RFC 3339 string, as PostgreSQL wants it. */
  timeText: string[];
  tenant: Array<string | null>;
  /** `data` as JSON text (for jsonb); binary data is wrapped as {"data_base64": "..."}. */
  data: Array<string | null>;
  /** Other CloudEvents attributes and extensions as JSON text (for jsonb). */
  extensions: string[];
  /** When this worker enriched the event (epoch ms). */
  ingestedAt: Float64Array;
  /** Dedupe identity, e.g. a 128-bit hash of (source, id) as 32 hex chars; "" when dedupe is off. */
  dedupeKey: string[];
  /** Bloom probe bit offsets, `probesPerKey` per event, precomputed in the enrich thread (empty when unused). */
  probes: Uint32Array;
  probesPerKey: number;
  /**
   * One PostgreSQL COPY text line per event (no trailing newline) for the persist stage's column mapping,
   * built in the enrich thread so the main thread only does I/O. "" for rejected events.
   */
  copyLines: string[];
  /**
   * Optional (additive): `copyLines` as UTF-8 bytes, each line followed by "\n" (no bytes for rejected events),
   * line i being `copyBytes.subarray(copyStarts[i], copyStarts[i + 1])`. The enrich stage sets both and then
   * decodes `copyLines` from them only when something reads it; the persist stage writes these bytes directly.
   */
  copyBytes?: Uint8Array;
  copyStarts?: Uint32Array;
  /**
   * Present when a stage declared the `json` need (shared/stages/needs.ts): each event as CloudEvents
   * structured-mode JSON (shared/stages/event-json.ts), UTF-8, each followed by "\n" (none for rejected
   * events), event i being `jsonBytes.subarray(jsonStarts[i], jsonStarts[i + 1] - 1)`. Built in the threads.
   */
  jsonBytes?: Uint8Array;
  jsonStarts?: Uint32Array;
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
