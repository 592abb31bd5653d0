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

/** Options of packRecords. */
export interface PackOptions {
  /**
   * The input's header lists and header values are already copies the batch may keep (the Kafka binding's
   * ConsumedMessage headers are): they are taken as they are instead of being copied again.
   */
  ownedHeaders?: boolean;
}

/**
 * Copies records into one packed RecordBatch. The copy is deliberate: it lets the caller release
 * librdkafka's messages immediately and lets the packed buffers be transferred to a thread.
 */
export function packRecords(input: readonly RecordInput[], opts: PackOptions = {}): RecordBatch {
  const size = input.length;
  let valueBytes = 0;
  let keyBytes = 0;
  const vals: Array<Uint8Array | null> = new Array(size);
  const keys: Array<Uint8Array | null> = new Array(size);
  for (let i = 0; i < size; i++) {
    const r = input[i];
    const v = r.value == null ? null : asBytes(r.value);
    const k = r.key == null ? null : asBytes(r.key);
    vals[i] = v;
    keys[i] = k;
    if (v) valueBytes += v.byteLength;
    if (k) keyBytes += k.byteLength;
  }
  const batch: RecordBatch = {
    size,
    topics: [],
    topicIndex: new Uint16Array(size),
    partitions: new Int32Array(size),
    offsets: new Float64Array(size),
    timestamps: new Float64Array(size),
    values: new Uint8Array(valueBytes),
    valueStarts: new Uint32Array(size + 1),
    valueNull: new Uint8Array(size),
    keys: new Uint8Array(keyBytes),
    keyStarts: new Uint32Array(size + 1),
    keyNull: new Uint8Array(size),
    headers: new Array(size),
    bytes: valueBytes + keyBytes,
  };
  const topicIds = new Map<string, number>();
  const ownedHeaders = opts.ownedHeaders === true;
  let vp = 0;
  let kp = 0;
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
    const v = vals[i];
    if (v) {
      batch.values.set(v, vp);
      vp += v.byteLength;
    } else batch.valueNull[i] = 1;
    batch.keyStarts[i] = kp;
    const k = keys[i];
    if (k) {
      batch.keys.set(k, kp);
      kp += k.byteLength;
    } else batch.keyNull[i] = 1;
    const h = r.headers;
    batch.headers[i] = h && h.length ? (ownedHeaders ? h : h.map(([n, hv]) => [n, hv ? hv.slice() : null])) : null;
  }
  batch.valueStarts[size] = vp;
  batch.keyStarts[size] = kp;
  return batch;
}
