/**
 * One enriched event as a Kafka record (CloudEvents Kafka protocol binding 1.0), with the deterministic
 * headers that let a consumer drop a re-delivery (see spec.ts for the crash window): the source record's
 * topic, partition and offset, and the event id (`ce_id`, also in structured mode). The record timestamp is
 * the event time and the key and value are built from the same record the same way, so a re-produced record
 * is the same record but for its offset and, when enrich adds it, the `ingestedat` extension (when it was
 * ingested, which differs by nature).
 *
 * Structured mode takes the JSON the enrich threads built (EnrichedEvents.jsonBytes, a view, no copy) unless
 * the event changed after enrich (Batch.dirty): then it is encoded here from the columns, as the threads do.
 */
import type { ProduceRecord } from "../../kafka/types.ts";
import type { Batch, EnrichedEvents } from "../batch.ts";
import { eventJsonAt } from "../event-json.ts";
import type { KafkaSinkStageConfig } from "./config.ts";

/** Header names of the source position (values are decimal text; stable across re-deliveries). */
export const SOURCE_HEADERS = {
  topic: "topofleet-source-topic",
  partition: "topofleet-source-partition",
  offset: "topofleet-source-offset",
} as const;

const STRUCTURED_CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8";
const CORE = ["id", "source", "type", "subject", "time"] as const;
type Core = (typeof CORE)[number];
const isCore = (name: string): name is Core => (CORE as readonly string[]).includes(name);

/** The text value of attribute `name` of event i (a core attribute, else an extension), or null when absent. */
function attributeText(ev: EnrichedEvents, i: number, name: string, ext: () => Record<string, unknown>): string | null {
  if (isCore(name)) return name === "time" ? ev.timeText[i] : ev[name][i];
  const v = ext()[name];
  return v === undefined || v === null ? null : String(v);
}

/** Builds the records of a sink's batch writes. */
export class RecordBuilder {
  constructor(private readonly cfg: KafkaSinkStageConfig) {}

  /** The record of event i of the batch. */
  record(batch: Batch, i: number): ProduceRecord {
    const ev = batch.events!;
    const rec = batch.records;
    let parsed: Record<string, unknown> | null = null;
    const ext = () => (parsed ??= JSON.parse(ev.extensions[i] || "{}") as Record<string, unknown>);
    const headers: Array<[string, string | Uint8Array | null]> = [
      [SOURCE_HEADERS.topic, rec.topics[rec.topicIndex[i]]],
      [SOURCE_HEADERS.partition, String(rec.partitions[i])],
      [SOURCE_HEADERS.offset, String(rec.offsets[i])],
    ];
    const key = attributeText(ev, i, this.cfg.key, ext);
    const base = { topic: this.cfg.topic, key, timestamp: ev.time[i], headers };
    if (this.cfg.mode === "binary") return { ...base, ...binary(ev, i, ext(), headers) };
    headers.push(["ce_id", ev.id[i]], ["content-type", STRUCTURED_CONTENT_TYPE]);
    return { ...base, value: structuredValue(batch, i) };
  }
}

/** Event i as structured-mode JSON: the threads' bytes when present and still right, else encoded now. */
function structuredValue(batch: Batch, i: number): Uint8Array | string {
  const ev = batch.events!;
  const bytes = ev.jsonBytes;
  const starts = ev.jsonStarts;
  if (bytes && starts && !batch.dirty.has(i) && starts[i + 1] > starts[i]) return bytes.subarray(starts[i], starts[i + 1] - 1);
  return eventJsonAt(ev, i);
}

/**
 * Binary mode: every attribute a `ce_` header (datacontenttype the `content-type` header), the data the value.
 * JSON data goes as its JSON text; binary data (held as `{"data_base64": ...}`) goes as its bytes.
 */
function binary(ev: EnrichedEvents, i: number, ext: Record<string, unknown>, headers: Array<[string, string | Uint8Array | null]>): { value: Uint8Array | string | null } {
  headers.push(["ce_specversion", "1.0"], ["ce_id", ev.id[i]], ["ce_source", ev.source[i]], ["ce_type", ev.type[i]], ["ce_time", ev.timeText[i]]);
  const subject = ev.subject[i];
  if (subject !== null) headers.push(["ce_subject", subject]);
  let contentType: string | null = null;
  for (const [name, v] of Object.entries(ext)) {
    if (name === "datacontenttype") contentType = String(v);
    else headers.push([`ce_${name}`, String(v)]);
  }
  const data = ev.data[i];
  if (data === null) {
    if (contentType !== null) headers.push(["content-type", contentType]);
    return { value: null };
  }
  const b64 = contentType !== null && !isJsonType(contentType) ? base64Data(data) : null;
  headers.push(["content-type", contentType ?? "application/json"]);
  return { value: b64 !== null ? Buffer.from(b64, "base64") : data };
}

const isJsonType = (t: string): boolean => /^application\/(?:[^;]+\+)?json\b|^text\/json\b/i.test(t.trim());

/** The base64 text of data held as `{"data_base64": "..."}`, or null for other JSON. */
function base64Data(json: string): string | null {
  if (!json.startsWith('{"data_base64":')) return null;
  const v = JSON.parse(json) as Record<string, unknown>;
  return Object.keys(v).length === 1 && typeof v.data_base64 === "string" ? v.data_base64 : null;
}
