/**
 * Topology files: load (YAML + `${VAR}` interpolation), validate strictly with positions, resolve defaults,
 * generate the JSON Schema, and explain. Only this folder ever looks at raw YAML; everything else uses
 * ResolvedTopology (./types.ts).
 */
import { topologySchema } from "./schema/topology.ts";
import { toJsonSchema } from "./schema/json-schema.ts";
import { markdownReference } from "./schema/reference.ts";

export type * from "./types.ts";
export { loadTopology, parseTopology, type LoadOptions } from "./load.ts";
export { explainTopology, type ExplainFacts } from "./explain.ts";
export { redactTopology } from "./redact.ts";
export { parseDuration, parseSize, formatDuration, formatSize } from "../config/units.ts";
export { isSecretKey, redactUrl } from "../config/secrets.ts";
export { TOPOLOGY_DEFAULTS } from "./defaults.ts";
export { DEFAULT_COLUMNS } from "../stages/persist/config.ts";
export type { TopologyFile } from "./schema/topology.ts";
export type { Env } from "./interpolate.ts";

/** The JSON Schema (draft-07) of topology files, generated from the same descriptors the validator uses. */
export function topologyJsonSchema(): Record<string, unknown> {
  return toJsonSchema(topologySchema, "topofleet topology");
}

/** A Markdown table of every topology key with its type, default and description. */
export function topologyReference(): string {
  return markdownReference(topologySchema);
}
