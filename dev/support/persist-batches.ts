/**
 * Batches as the enrich stage hands them to persist: packed Kafka records plus filled EnrichedEvents,
 * including each event's COPY line in the stage's column order (built with the same helpers enrich uses).
 */
import { Batch, type EnrichedEvents } from "../../shared/stages/batch.ts";
import { packRecords } from "../../shared/stages/records.ts";
import { DEFAULT_COLUMNS, rowValues } from "../../shared/stages/persist/columns.ts";
import { copyLine } from "../../shared/stages/persist/copy-text.ts";
import type { ColumnMapping } from "../../shared/topology/types.ts";

/** One event as a test describes it; everything but id has a default. */
export interface FixtureEvent {
  id: string;
  source?: string;
  type?: string;
  subject?: string | null;
  /** RFC 3339. */
  time?: string;
  tenant?: string | null;
  /** JSON text for the data column (not validated here: tests feed bad JSON on purpose). */
  data?: string | null;
  extensions?: string;
  partition?: number;
  offset?: number;
}

let nextOffset = 1_000;
/** The ingest time every fixture event carries. */
export const INGESTED_AT = Date.parse("2026-01-02T03:04:05.678Z");
/** A time on "today" (UTC noon), so the default partitions cover it. */
export const todayNoon = (): string => new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000 + 43_200_000).toISOString();

/** Fills in defaults (a fresh Kafka offset per event unless given). */
export function fixtureEvent(e: FixtureEvent): Required<FixtureEvent> {
  return {
    id: e.id,
    source: e.source ?? "/tests/persist",
    type: e.type ?? "com.example.test",
    subject: e.subject === undefined ? "subject-" + e.id : e.subject,
    time: e.time ?? todayNoon(),
    tenant: e.tenant === undefined ? "tenant-a" : e.tenant,
    data: e.data === undefined ? JSON.stringify({ n: e.id }) : e.data,
    extensions: e.extensions ?? "{}",
    partition: e.partition ?? 0,
    offset: e.offset ?? nextOffset++,
  };
}

/** A batch holding `input`, enriched, with COPY lines for `columns`. */
export function makeBatch(input: readonly FixtureEvent[], columns: readonly ColumnMapping[] = DEFAULT_COLUMNS): Batch {
  const evs = input.map(fixtureEvent);
  const records = packRecords(
    evs.map((e) => ({
      topic: "events",
      partition: e.partition,
      offset: e.offset,
      timestamp: Date.parse(e.time),
      key: e.id,
      value: JSON.stringify({ specversion: "1.0", id: e.id, source: e.source, type: e.type, time: e.time }),
    })),
  );
  const n = evs.length;
  const events: EnrichedEvents = {
    id: evs.map((e) => e.id),
    source: evs.map((e) => e.source),
    type: evs.map((e) => e.type),
    subject: evs.map((e) => e.subject),
    time: Float64Array.from(evs, (e) => Date.parse(e.time)),
    timeText: evs.map((e) => e.time),
    tenant: evs.map((e) => e.tenant),
    data: evs.map((e) => e.data),
    extensions: evs.map((e) => e.extensions),
    ingestedAt: new Float64Array(n).fill(INGESTED_AT),
    dedupeKey: new Array(n).fill(""),
    probes: new Uint32Array(0),
    probesPerKey: 0,
    copyLines: [],
  };
  events.copyLines = evs.map((_, i) => copyLine(rowValues(columns, events, records, i)));
  const batch = new Batch(records);
  batch.events = events;
  return batch;
}

/** `n` distinct events `<prefix>-<k>`, optionally with overrides per event. */
export function manyEvents(prefix: string, n: number, each: (k: number) => Partial<FixtureEvent> = () => ({})): FixtureEvent[] {
  return Array.from({ length: n }, (_, k) => ({ id: `${prefix}-${k}`, ...each(k) }));
}

