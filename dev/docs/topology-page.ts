/**
 * docs/reference/topology.md: every key of a topology file, from the schema descriptors. The stages get a
 * section each, one per variant of the `stages:` list, so a stage added to the registry appears by itself.
 */
import type { Desc, ObjectDesc } from "../../shared/config/dsl.ts";
import { requiredKeys } from "../../shared/topology/schema/json-schema.ts";
import { markdownTable, referenceRows } from "../../shared/topology/schema/reference.ts";
import { topologySchema } from "../../shared/topology/schema/topology.ts";
import { code, page } from "./markdown.ts";

/** The variants of `stages:` (kind → schema), in registry order. */
export function stageVariants(root: ObjectDesc = topologySchema): [string, Desc][] {
  const stages = root.fields.stages;
  if (stages?.kind !== "array" || stages.items.kind !== "tagged") throw new Error("topology schema: `stages` is not a list of single-key maps");
  return Object.entries(stages.items.variants);
}

/** The page text. */
export function topologyPage(root: ObjectDesc = topologySchema): string {
  const sections: string[] = [
    "Every key of a topology file: its type, its default and what it does, generated from the schema descriptors " +
      "the validator and `topologies/topology.schema.json` are built from. Durations and sizes take the units in the " +
      "[guide](../guide.md#units); \"required\" keys have no default. How to write a file is in the " +
      "[guide](../guide.md#writing-a-topology), what each stage does in [stages.md](../stages.md).",
  ];
  const top = Object.entries(root.fields).filter(([k]) => k !== "stages");
  sections.push(`**Sections:** ${[...top.map(([k]) => k), "stages"].map((k) => `[${code(k)}](#${k.toLowerCase()})`).join(" · ")}`);
  const required = requiredKeys(root);
  for (const [key, desc] of top) sections.push(`## ${key}`, markdownTable(referenceRows(desc, key, required.includes(key))));
  const variants = stageVariants(root);
  // The list and its item row only; each variant's keys get a section of their own below.
  const listRows = referenceRows(root.fields.stages, "stages", required.includes("stages")).filter((r) => r.path === "stages" || r.path === "stages[]");
  sections.push(
    "## stages",
    `The pipeline, in processing order: a list of single-key maps, one per stage. The kinds: ${variants.map(([k]) => `[${code(k)}](#${k})`).join(", ")}.`,
    markdownTable(listRows),
  );
  for (const [kind, desc] of variants) sections.push(`### ${kind}`, markdownTable(referenceRows(desc, `stages[].${kind}`, false)));
  return page("Topology file reference", ["shared/topology/schema/", "shared/stages/"], sections);
}
