/**
 * An enriched event as CloudEvents structured-mode JSON (what the Kafka sink produces). Built from the same
 * column values every sink reads (EnrichedEvents), by the enrich threads for every event and by the main
 * thread for events a later stage changed (Batch.updateEvent), so both give byte-identical text. The time
 * is the effective event time (the CloudEvents `time`, else the Kafka timestamp, else the ingest time), and
 * binary data travels as the data column holds it: `{"data_base64": "..."}`.
 */
import type { EnrichedEvents } from "./batch.ts";

/** The column values of one event that its JSON is built from (JSON texts for data and extensions). */
export interface EventJsonFields {
  id: string;
  source: string;
  type: string;
  subject: string | null;
  timeText: string;
  /** `data` as JSON text, or null without data. */
  data: string | null;
  /** The other attributes and extensions as one JSON object text, e.g. `{"tenantid":"t1"}`. */
  extensions: string;
}

/** The event's structured-mode JSON (one line: JSON.stringify never writes a raw newline). */
export function eventJson(f: EventJsonFields): string {
  let s = `{"specversion":"1.0","id":${JSON.stringify(f.id)},"source":${JSON.stringify(f.source)},"type":${JSON.stringify(f.type)}`;
  if (f.subject !== null) s += `,"subject":${JSON.stringify(f.subject)}`;
  s += `,"time":"${f.timeText}"`;
  // The extensions text is an object: its members go in as they are.
  if (f.extensions.length > 2) s += "," + f.extensions.slice(1, -1);
  if (f.data !== null) s += `,"data":${f.data}`;
  return s + "}";
}

/** Event i of the batch's columns as structured-mode JSON. */
export function eventJsonAt(ev: EnrichedEvents, i: number): string {
  return eventJson({
    id: ev.id[i],
    source: ev.source[i],
    type: ev.type[i],
    subject: ev.subject[i],
    timeText: ev.timeText[i],
    data: ev.data[i],
    extensions: ev.extensions[i],
  });
}
