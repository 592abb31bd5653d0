/** A Markdown table of every key of the topology file (path, type, default, description), generated from the descriptors. */
import { formatDuration, formatSize } from "../../config/units.ts";
import type { Desc, ObjectDesc } from "../../config/dsl.ts";
import { describe, requiredKeys } from "./json-schema.ts";

/** One key of the reference: its dotted path (`stages[].dedupe.window`) and its table cells. */
export interface ReferenceRow {
  path: string;
  type: string;
  default: string;
  description: string;
}

/** Every key under `root`, depth first, paths prefixed with `prefix` (e.g. `stages[].enrich`); `required`: whether `root` itself is. */
export function referenceRows(root: Desc, prefix = "", required = true): ReferenceRow[] {
  const rows: ReferenceRow[] = [];
  const visit = (d: Desc, path: string, required: boolean) => {
    if (path) rows.push({ path, type: typeName(d), default: defaultText(d, required), description: describe(d, false).replace(/\|/g, "\\|") });
    switch (d.kind) {
      case "object":
        for (const [k, f] of Object.entries(d.fields)) visit(f, path ? `${path}.${k}` : k, requiredKeys(d).includes(k));
        break;
      case "array":
        if (d.items.kind === "object" || d.items.kind === "tagged") visit(d.items, `${path}[]`, false);
        break;
      case "tagged":
        for (const [k, v] of Object.entries(d.variants)) visit(v, `${path}.${k}`, false);
        break;
      case "either":
        for (const [k, f] of Object.entries(d.object.fields)) visit(f, `${path}.${k}`, false);
        break;
      default:
        break;
    }
  };
  visit(root, prefix, required);
  return rows;
}

/** The rows as a Markdown table. */
export function markdownTable(rows: readonly ReferenceRow[]): string {
  const lines = ["| key | type | default | description |", "|---|---|---|---|"];
  for (const r of rows) lines.push(`| \`${r.path}\` | ${r.type} | ${r.default} | ${r.description} |`);
  return lines.join("\n");
}

/** Markdown reference of every key under `root`. */
export function markdownReference(root: ObjectDesc): string {
  return markdownTable(referenceRows(root));
}

function typeName(d: Desc): string {
  switch (d.kind) {
    case "string":
      return d.enum ? d.enum.map((e) => `\`${e}\``).join(" \\| ") : "string";
    case "array":
      return `list of ${d.items.kind === "tagged" ? "single-key maps" : typeName(d.items)}`;
    case "map":
      return "mapping";
    case "tagged":
      return `one of ${Object.keys(d.variants).map((k) => `\`${k}:\``).join(", ")}`;
    case "either":
      return `${typeName(d.scalar)} or mapping`;
    case "object":
      return "mapping";
    default:
      return d.kind;
  }
}

function defaultText(d: Desc, required: boolean): string {
  if (d.dynamicDefault) return d.dynamicDefault;
  if (d.defaultSummary) return d.defaultSummary;
  if (d.default === undefined) return required ? "**required**" : "—";
  if (d.kind === "object") return "(each key's default)";
  if (d.kind === "duration" && typeof d.default === "number") return `\`${formatDuration(d.default)}\``;
  if (d.kind === "size" && typeof d.default === "number") return `\`${formatSize(d.default)}\``;
  return `\`${JSON.stringify(d.default)}\``;
}
