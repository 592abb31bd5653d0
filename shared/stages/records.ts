import { ptr } from "bun:ffi";
import { KafkaMessage } from "../kafka/consumer/message-reader.ts";
import { decodeWireHeaders, wireHeadersSize, writeWireHeaders } from "../kafka/wire-headers.ts";
import type { HeaderList, RecordBatch } from "./batch.ts";

/** The fields of one Kafka record that the pipeline needs; values may be views (they are copied). */
export interface RecordInput {
  topic: string;
  partition: number;
  offset: number;
  timestamp?: number; // epoch ms, -1 / undefined when absent
  key?: Uint8Array | string | null;
  value: Uint8Array | string | null;
  headers?: HeaderList | null;
}

const encoder = new TextEncoder();
const asBytes = (v: Uint8Array | string): Uint8Array => (typeof v === "string" ? encoder.encode(v) : v);

/**
 * Copies records into one packed RecordBatch. The copy is deliberate: it lets the caller release
 * librdkafka's messages immediately. It is the only copy of the bytes on the main thread: the values, the raw
 * header blocks and the per-record columns live in SharedArrayBuffers (see sharedColumns), so the enrich stage
 * hands a thread a view of its slice instead of copying it again.
 *
 * Messages of the Kafka binding (KafkaMessage) are copied straight out of librdkafka's memory, one memcpy per
 * value, key and header block, without a view per message; their headers stay in wire form, undecoded
 * (recordHeaders decodes one record's on demand). Other inputs' headers are encoded to the same form.
 */
export function packRecords(input: readonly RecordInput[]): RecordBatch {
  const size = input.length;
  let valueBytes = 0;
  let keyBytes = 0;
  let headerBytes = 0;
  // Bytes of inputs that are not KafkaMessages (text encoded once), by index; allocated on the first such input.
  let vals: Array<Uint8Array | null> | null = null;
  let keys: Array<Uint8Array | null> | null = null;
  for (let i = 0; i < size; i++) {
    const r = input[i];
    if (r instanceof KafkaMessage) {
      valueBytes += r.valueSize;
      keyBytes += r.keySize;
      const block = r.headerBlockSize;
      headerBytes += block > 0 ? block : wireHeadersSize(r.headers);
      continue;
    }
    vals ??= new Array(size);
    keys ??= new Array(size);
    const v = r.value == null ? null : asBytes(r.value);
    const k = r.key == null ? null : asBytes(r.key);
    vals[i] = v;
    keys[i] = k;
    if (v) valueBytes += v.byteLength;
    if (k) keyBytes += k.byteLength;
    headerBytes += wireHeadersSize(r.headers);
  }
  const cols = sharedColumns(size);
  const batch: RecordBatch = {
    size,
    topics: [],
    topicIndex: cols.topicIndex,
    partitions: cols.partitions,
    offsets: cols.offsets,
    timestamps: cols.timestamps,
    values: new Uint8Array(new SharedArrayBuffer(valueBytes)),
    valueStarts: new Uint32Array(size + 1),
    valueNull: cols.valueNull,
    keys: new Uint8Array(keyBytes),
    keyStarts: new Uint32Array(size + 1),
    keyNull: new Uint8Array(size),
    headerBytes: new Uint8Array(new SharedArrayBuffer(headerBytes)),
    headerStarts: new Uint32Array(size + 1),
    bytes: valueBytes + keyBytes,
  };
  // Addresses for the memcpy of KafkaMessage bytes (an empty buffer has none and never receives any).
  const valuesAt = valueBytes > 0 ? ptr(batch.values) : 0;
  const keysAt = keyBytes > 0 ? ptr(batch.keys) : 0;
  const headersAt = headerBytes > 0 ? ptr(batch.headerBytes) : 0;
  const topicIds = new Map<string, number>();
  let vp = 0;
  let kp = 0;
  let hp = 0;
  let lastTopic: string | null = null;
  let t = 0;
  for (let i = 0; i < size; i++) {
    const r = input[i];
    // Records come in runs of one topic: look the index up only when the topic changes.
    if (r.topic !== lastTopic) {
      lastTopic = r.topic;
      let id = topicIds.get(r.topic);
      if (id === undefined) {
        id = batch.topics.length;
        batch.topics.push(r.topic);
        topicIds.set(r.topic, id);
      }
      t = id;
    }
    batch.topicIndex[i] = t;
    batch.partitions[i] = r.partition;
    batch.offsets[i] = r.offset;
    batch.timestamps[i] = r.timestamp ?? -1;
    batch.valueStarts[i] = vp;
    batch.keyStarts[i] = kp;
    batch.headerStarts[i] = hp;
    if (r instanceof KafkaMessage) {
      const { bytes: src, index: j } = r;
      if (src.vp[j] === 0) batch.valueNull[i] = 1;
      else {
        src.copyValue(j, valuesAt + vp);
        vp += src.vl[j];
      }
      if (src.kp[j] === 0) batch.keyNull[i] = 1;
      else {
        src.copyKey(j, keysAt + kp);
        kp += src.kl[j];
      }
      const block = r.headerBlockSize;
      if (block > 0) {
        src.copyHeaderBlock(j, headersAt + hp);
        hp += block;
      } else hp = writeWireHeaders(r.headers, batch.headerBytes, hp);
      continue;
    }
    const v = vals![i];
    if (v) {
      batch.values.set(v, vp);
      vp += v.byteLength;
    } else batch.valueNull[i] = 1;
    const k = keys![i];
    if (k) {
      batch.keys.set(k, kp);
      kp += k.byteLength;
    } else batch.keyNull[i] = 1;
    hp = writeWireHeaders(r.headers, batch.headerBytes, hp);
  }
  batch.valueStarts[size] = vp;
  batch.keyStarts[size] = kp;
  batch.headerStarts[size] = hp;
  return batch;
}

/**
 * Record i's headers, decoded from the batch's wire blocks (values are views of the batch's buffer, which
 * nothing changes: safe to keep); null when it has none.
 */
export function recordHeaders(r: RecordBatch, i: number): HeaderList | null {
  const from = r.headerStarts[i];
  const to = r.headerStarts[i + 1];
  // Bytes that do not decode are what librdkafka's own parser refuses too: no headers.
  return from === to ? null : (decodeWireHeaders(r.headerBytes, from, to) ?? null);
}

/**
 * The per-record columns an enrich thread reads, in one SharedArrayBuffer (offsets and timestamps first, so
 * every column is aligned). Shared memory lets a slice reach its thread as views: nothing is copied or
 * transferred, and the main thread keeps the batch whole for retries and dead letters even if the thread
 * dies. No thread ever writes to them.
 */
function sharedColumns(size: number): Pick<RecordBatch, "offsets" | "timestamps" | "partitions" | "topicIndex" | "valueNull"> {
  const sab = new SharedArrayBuffer(size * 23);
  return {
    offsets: new Float64Array(sab, 0, size),
    timestamps: new Float64Array(sab, size * 8, size),
    partitions: new Int32Array(sab, size * 16, size),
    topicIndex: new Uint16Array(sab, size * 20, size),
    valueNull: new Uint8Array(sab, size * 22, size),
  };
}
