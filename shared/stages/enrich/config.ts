/** The resolved config of the enrich stage (see ./spec.ts for its schema and resolver). */
import type { StageConfigBase } from "../stage-config.ts";

/**
 * CloudEvents context attributes a lookup may not overwrite: lookups add extension attributes only (these core
 * attributes and the data members are validated or stored apart).
 */
export const RESERVED_TARGETS: ReadonlySet<string> = new Set(["specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema", "data", "data_base64"]);

/** A lookup table joined into events by the enrich stage. */
export type LookupConfig =
  | { kind: "file"; name: string; path: string; key: string; into: string }
  | { kind: "postgres"; name: string; url: string; query: string; key: string; into: string; refreshMs: number };

export interface EnrichStageConfig extends StageConfigBase {
  kind: "enrich";
  name: string;
  threads: number; // piscina threads per worker
  ingestTimestamp: boolean; // add `ingestedat` extension / column
  tenantFromSource: boolean; // derive tenant from the source path's first segment when `tenantid` is absent
  maxEventBytes: number; // larger payloads are rejected (dead-lettered)
  maxAttributes: number; // events with more attributes are rejected (dead-lettered)
  sliceTimeoutMs: number; // deadline of one slice in an enrich thread
  lookups: LookupConfig[];
  module: string | null; // absolute path of a user enrich module
}

