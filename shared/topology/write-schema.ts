/**
 * Regenerates topologies/topology.schema.json from the schema descriptors:
 *   bun shared/topology/write-schema.ts            (writes the file)
 *   bun shared/topology/write-schema.ts --markdown (prints the key reference table instead)
 * test/topology/schema.test.ts fails when the shipped file is out of date.
 */
import { writeFileSync } from "node:fs";
import { schemaFilePath, schemaFileText } from "./schema-file.ts";
import { topologyReference } from "./index.ts";

if (process.argv.includes("--markdown")) {
  console.log(topologyReference());
} else {
  writeFileSync(schemaFilePath(), schemaFileText());
  console.log(`wrote ${schemaFilePath()}`);
}
