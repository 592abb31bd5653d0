/**
 * Test helpers for the enrich stage: a hand-built ResolvedTopology (the stage only reads the enrich, dedupe
 * and persist configs and concurrency), record builders for both CloudEvents modes, and a COPY text parser.
 */
import { expect } from "bun:test";
import { Batch, EventStatus, type HeaderList } from "../../../shared/stages/batch.ts";
import { resolvedTopology } from "../../../dev/support/topology.ts";
import { createEnrichStage, type EnrichStage } from "../../../shared/stages/enrich/index.ts";
import { packRecords, type RecordInput } from "../../../shared/stages/records.ts";
import { dedupeConfig, enrichConfig, persistConfig } from "../../../dev/support/stage-configs.ts";
import { stageContext } from "../../../dev/support/stage-context.ts";
import { Metrics } from "../../../shared/telemetry/metrics.ts";
import type { DedupeStageConfig, EnrichStageConfig, PersistStageConfig, ResolvedTopology } from "../../../shared/topology/types.ts";
import { COLUMN_SOURCES } from "../../../shared/stages/persist/config.ts";

/** The default persist column mapping, in order. */
export const DEFAULT_COLUMNS = COLUMN_SOURCES;

/** A topology with an enrich stage and, unless turned off, dedupe and persist after it. */
export function testTopology(opts: { enrich?: Partial<EnrichStageConfig>; dedupe?: Partial<DedupeStageConfig> | false; persist?: Partial<PersistStageConfig> | false } = {}): ResolvedTopology {
  const stages: ResolvedTopology["stages"] = [enrichConfig(opts.enrich)];
  if (opts.dedupe !== false) stages.push(dedupeConfig(opts.dedupe || {}));
  // The fixtures' times are fixed dates (2024): a century of retention keeps them inside the partition window.
  if (opts.persist !== false) stages.push(persistConfig({ retentionDays: 36_500, ...opts.persist }));
  return resolvedTopology(stages, { file: "/tmp/enrich-test.yaml", name: "enrich-test" });
}

/** Creates and starts the enrich stage of `topology`. */
export async function startEnrich(topology: ResolvedTopology): Promise<{ stage: EnrichStage; metrics: Metrics }> {
  const cfg = topology.stages[0] as EnrichStageConfig;
  const stage = createEnrichStage(cfg);
  const metrics = new Metrics();
  await stage.start(stageContext({ topology, stages: [stage], metrics }));
  return { stage, metrics };
}

/** A valid structured-mode CloudEvent object; `overrides` with value undefined delete the attribute. */
export function ce(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    specversion: "1.0",
    id: "evt-1",
    source: "/tenants/acme/orders",
    type: "com.example.order.created",
    time: "2024-05-01T12:34:56.789Z",
    subject: "order-1",
    datacontenttype: "application/json",
    data: { orderId: 1, amount: 12.5 },
  };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return base;
}

let nextOffset = 0;

/** A structured-mode record (value = the event JSON, or raw text/bytes when given a string or Uint8Array). */
export function structured(event: Record<string, unknown> | string | Uint8Array | null, extra: Partial<RecordInput> = {}): RecordInput {
  const value = event === null || typeof event === "string" || event instanceof Uint8Array ? event : JSON.stringify(event);
  return { topic: "events", partition: 0, offset: nextOffset++, timestamp: 1_714_566_000_000, value, ...extra };
}

const enc = new TextEncoder();

/** A binary-mode record: each attribute as a `ce_` header, `content-type` from datacontenttype, `data` as the value. */
export function binary(
  attrs: Record<string, string>,
  value: Uint8Array | string | null,
  extra: Partial<RecordInput> = {},
): RecordInput {
  const headers: HeaderList = [];
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "datacontenttype") headers.push(["content-type", enc.encode(v)]);
    else headers.push([`ce_${k}`, enc.encode(v)]);
  }
  return { topic: "events", partition: 0, offset: nextOffset++, timestamp: 1_714_566_000_000, value, headers, ...extra };
}

/** A Batch of the given records. */
export function batchOf(records: RecordInput[]): Batch {
  return new Batch(packRecords(records));
}

/** Decodes one COPY text line into its fields (null for \N), the inverse of copy-text.ts. */
export function parseCopyLine(line: string): Array<string | null> {
  return line.split("\t").map((field) => {
    if (field === "\\N") return null;
    return field.replace(/\\(.)/g, (_, c: string) => (c === "t" ? "\t" : c === "n" ? "\n" : c === "r" ? "\r" : c));
  });
}

/** The COPY fields of event i by column name (default mapping). */
export function row(batch: Batch, i: number): Record<string, string | null> {
  const fields = parseCopyLine(batch.events!.copyLines[i]);
  return Object.fromEntries(DEFAULT_COLUMNS.map((c, k) => [c, fields[k]]));
}

/** One record enriched between two valid ones, with the checks every enrich validation test makes. */
export interface RecordProbe {
  /** Enriches the record at index 1 of a three-event batch; the neighbours must stay Live. */
  enrich(record: RecordInput): Promise<Batch>;
  /** The record is dead-lettered by enrich with `code`, a reason containing `reasonPart`, and no row. */
  expectRejected(record: RecordInput, code: string, reasonPart: string): Promise<void>;
  /** The record passes enrich. */
  expectValid(record: RecordInput): Promise<Batch>;
}

/** Probes for `stage()` (a getter, so a stage started in beforeAll can be used). */
export function recordProbe(stage: () => EnrichStage): RecordProbe {
  const enrich = async (record: RecordInput): Promise<Batch> => {
    const b = batchOf([structured(ce({ id: "before" })), record, structured(ce({ id: "after" }))]);
    await stage().process(b);
    expect(b.status[0]).toBe(EventStatus.Live);
    expect(b.status[2]).toBe(EventStatus.Live);
    return b;
  };
  return {
    enrich,
    async expectRejected(record, code, reasonPart) {
      const b = await enrich(record);
      expect(b.status[1]).toBe(EventStatus.DeadLettered);
      const r = b.rejections.get(1)!;
      expect(r.stage).toBe("enrich");
      expect(r.code).toBe(code);
      expect(r.reason).toContain(reasonPart);
      expect(b.events!.copyLines[1]).toBe("");
    },
    async expectValid(record) {
      const b = await enrich(record);
      expect(b.rejections.get(1)).toBeUndefined();
      expect(b.status[1]).toBe(EventStatus.Live);
      return b;
    },
  };
}
