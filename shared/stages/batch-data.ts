/**
 * The data a batch carries, as plain types: the packed Kafka records and the enriched event columns. Apart from
 * batch.ts so that the code that fills or patches them (enrich threads, event patches) does not import the
 * Batch class, which imports that code back.
 */

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
  /**
   * Record i's headers in Kafka's wire form (KIP-82, see kafka/wire-headers.ts):
   * `headerBytes.subarray(headerStarts[i], headerStarts[i + 1])`, empty when it has none (most records, in
   * structured mode). Decoded only where read: `recordHeaders` (records.ts), and the enrich threads.
   */
  headerBytes: Uint8Array;
  headerStarts: Uint32Array;
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

/**
 * Event i's value of a context attribute kept in its own column (`time` as RFC 3339 text, `subject` null when
 * absent), or undefined when `attr` is not one of them (then it is in the event's extensions, or nowhere).
 */
export function columnAttribute(ev: EnrichedEvents, i: number, attr: string): string | null | undefined {
  switch (attr) {
    case "id":
      return ev.id[i];
    case "source":
      return ev.source[i];
    case "type":
      return ev.type[i];
    case "subject":
      return ev.subject[i];
    case "time":
      return ev.timeText[i];
    default:
      return undefined;
  }
}
