/**
 * The enrich plan: everything a thread needs to turn records into rows, derived once from the stage config
 * and what the stages after enrich declare they need (shared/stages/needs.ts: Bloom probes, COPY rows, JSON).
 * Plain JSON, so it crosses to the threads as piscina `workerData`.
 */
import { ConfigError } from "../../errors/index.ts";
import type { BloomLayout } from "../dedupe/bloom-math.ts";
import type { PipelineView, StageConfigBase } from "../stage.ts";
import { RESERVED_TARGETS, type EnrichStageConfig } from "./config.ts";
import { mergeNeeds, type EnrichNeeds, type RowColumn } from "../needs.ts";
import { isValidAttributeName } from "./cloudevent.ts";

/** Where an encoded row's column value comes from. */
export type ColumnSource = RowColumn;



/** What the threads execute. */
export interface EnrichPlan {
  stage: string;
  workerId: number;
  maxEventBytes: number;
  maxAttributes: number;
  /**
   * Keep the ingest time with the event. A mapped `ingested_at` column always holds it (it describes the row,
   * and the managed schema declares it NOT NULL); without such a column, ingestTimestamp adds it to the event as
   * the `ingestedat` extension instead (ingestedAtExtension), so it is never lost.
   */
  ingestTimestamp: boolean;
  ingestedAtExtension: boolean;
  tenantFromSource: boolean;
  lookups: Array<{ name: string; key: string; into: string }>;
  /** Absolute path of the user enrich module. */
  module: string | null;
  /** Present when a later stage needs Bloom probes (the dedupe stage): the identity fields and Bloom layout. */
  dedupe: { keyFields: string[]; layout: BloomLayout } | null;
  /** The COPY columns a later stage needs (the persist stage), in order; null: no COPY lines are built. */
  columns: ColumnSource[] | null;
  /** Days of event time that get a partition, when the persist stage manages a partitioned table (thread.ts windowProblem). */
  partitionWindow: { retentionDays: number; aheadDays: number } | null;
  /** A later stage needs each event as structured-mode JSON (the Kafka sink); absent: none is built. */
  json?: boolean;
}

/** Rejects enrich settings the threads could not honour (the topology loader validates most; this guards direct use). */
export function checkEnrichConfig(cfg: EnrichStageConfig): void {
  const problems: string[] = [];
  if (!Number.isInteger(cfg.threads) || cfg.threads < 1) problems.push(`threads must be an integer >= 1, got ${cfg.threads}`);
  if (!(cfg.maxEventBytes > 0)) problems.push(`maxEventBytes must be > 0, got ${cfg.maxEventBytes}`);
  if (!(cfg.maxAttributes >= 4)) problems.push(`maxAttributes must be >= 4 (the required attributes), got ${cfg.maxAttributes}`);
  if (!(cfg.sliceTimeoutMs > 0)) problems.push(`sliceTimeout must be > 0, got ${cfg.sliceTimeoutMs}`);
  if (cfg.module !== null && !cfg.module.startsWith("/")) problems.push(`module must be an absolute path, got ${cfg.module}`);
  const names = new Set<string>();
  cfg.lookups.forEach((l, i) => {
    if (names.has(l.name)) problems.push(`lookups[${i}].name ${JSON.stringify(l.name)} is used twice`);
    names.add(l.name);
    if (!l.key) problems.push(`lookups[${i}].key must be an attribute name`);
    if (!isValidAttributeName(l.into)) problems.push(`lookups[${i}].into ${JSON.stringify(l.into)} must be an attribute name (a-z, 0-9)`);
    else if (RESERVED_TARGETS.has(l.into)) problems.push(`lookups[${i}].into must name an extension attribute, not ${l.into}`);
    if (l.kind === "postgres" && !(l.refreshMs > 0)) problems.push(`lookups[${i}].refreshMs must be > 0`);
  });
  if (problems.length) throw new ConfigError("CONFIG_INVALID", `enrich stage ${cfg.name}: ${problems.join("; ")}`);
}

/** The configs of the stages after enrich stage `name` (every other stage when it is not in the topology): whose needs it serves. */
export function stagesServed(name: string, topology: PipelineView): readonly StageConfigBase[] {
  const at = topology.stages.findIndex((s) => s.kind === "enrich" && s.name === name);
  return at >= 0 ? topology.stages.slice(at + 1) : topology.stages.filter((s) => s.kind !== "enrich");
}

/** Derives the thread plan from the stage config and the needs of the stages after it (`needsOf`: the registry's). */
export function buildEnrichPlan(cfg: EnrichStageConfig, topology: PipelineView, workerId: number, needsOf: (cfg: StageConfigBase) => EnrichNeeds): EnrichPlan {
  const after = stagesServed(cfg.name, topology);
  const needs = mergeNeeds(after.map((s) => ({ stage: s.name, needs: needsOf(s) })));
  const columns = needs.copyRows ? [...needs.copyRows.columns] : null;
  return {
    stage: cfg.name,
    workerId,
    maxEventBytes: cfg.maxEventBytes,
    maxAttributes: cfg.maxAttributes,
    ingestTimestamp: cfg.ingestTimestamp,
    ingestedAtExtension: cfg.ingestTimestamp && !columns?.includes("ingested_at"),
    tenantFromSource: cfg.tenantFromSource,
    lookups: cfg.lookups.map(({ name, key, into }) => ({ name, key, into })),
    module: cfg.module,
    dedupe: needs.probes ? { keyFields: [...needs.probes.keyFields], layout: needs.probes.layout } : null,
    columns,
    partitionWindow: needs.copyRows?.partitionWindow ?? null,
    json: needs.json === true,
  };
}
