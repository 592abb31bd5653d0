/**
 * docs/reference/topology.md: every key of a topology file, from the schema descriptors. The stages get a
 * section each, from the stage registry (shared/stages/registry.ts), so a registered stage appears by itself.
 */
import { stringify } from "yaml";
import type { ObjectDesc } from "../../shared/config/dsl.ts";
import { STAGE_SPECS } from "../../shared/stages/registry.ts";
import type { AnyStageSpec } from "../../shared/stages/spec.ts";
import { requiredKeys } from "../../shared/topology/schema/json-schema.ts";
import { markdownTable, referenceRows } from "../../shared/topology/schema/reference.ts";
import { topologySchema } from "../../shared/topology/schema/topology.ts";
import { code, page } from "./markdown.ts";

/** The registered stage specs, in registry order. */
export const stageSpecs = (): readonly AnyStageSpec[] => STAGE_SPECS;

/** One stage's section: what it is, its smallest valid item, every key. */
function stageSection(spec: AnyStageSpec): string[] {
  const example = stringify([{ [spec.kind]: spec.example }]).trimEnd();
  const codes = Object.keys(spec.errors).length + Object.keys(spec.rejections).length;
  return [
    `### ${spec.kind}`,
    `${spec.schema.description}${codes ? ` Its error and dead-letter codes: [errors.md](errors.md#${spec.kind.toLowerCase()}-stage).` : ""} The smallest valid item:`,
    ["```yaml", "stages:", example.replace(/^/gm, "  "), "```"].join("\n"),
    markdownTable(referenceRows(spec.schema, `stages[].${spec.kind}`, false)),
  ];
}

/** The page text. */
export function topologyPage(root: ObjectDesc = topologySchema): string {
  const specs = stageSpecs();
  const top = Object.entries(root.fields).filter(([k]) => k !== "stages");
  const required = requiredKeys(root);
  // The list and its item row only; each stage's keys get a section of their own.
  const listRows = referenceRows(root.fields.stages, "stages", required.includes("stages")).filter((r) => r.path === "stages" || r.path === "stages[]");
  return page("Topology file reference", ["shared/topology/schema/", "shared/stages/registry.ts", "shared/stages/*/spec.ts"], [
    "Every key of a topology file: its type, its default and what it does, generated from the schema descriptors " +
      "the validator and `topologies/topology.schema.json` are built from. Durations and sizes take the units in the " +
      "[guide](../guide.md#units); \"required\" keys have no default. How to write a file is in the " +
      "[guide](../guide.md#writing-a-topology), what each stage does in [stages.md](../stages.md).",
    `**Sections:** ${[...top.map(([k]) => k), "stages"].map((k) => `[${code(k)}](#${k.toLowerCase()})`).join(" · ")}`,
    ...top.flatMap(([key, desc]) => [`## ${key}`, markdownTable(referenceRows(desc, key, required.includes(key)))]),
    "## stages",
    `The pipeline, in processing order: a list of single-key maps, one per stage. The registered kinds: ${specs.map((s) => `[${code(s.kind)}](#${s.kind.toLowerCase()})`).join(", ")}.`,
    markdownTable(listRows),
    ...specs.flatMap(stageSection),
  ]);
}
