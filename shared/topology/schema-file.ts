/** Where the generated JSON Schema is shipped and its exact text (shared by the writer script and the freshness test). */
import { resolve } from "node:path";
import { topologyJsonSchema } from "./index.ts";

/** Absolute path of topologies/topology.schema.json. */
export function schemaFilePath(): string {
  return resolve(import.meta.dir, "../../topologies/topology.schema.json");
}

/** The file's expected content. */
export function schemaFileText(): string {
  return `${JSON.stringify(topologyJsonSchema(), null, 2)}\n`;
}
