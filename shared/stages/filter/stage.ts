/**
 * The filter stage: evaluates its expression on each live event's attributes and removes the events it
 * filters out, either counted as filtered (EventStatus.Filtered: accounted, never stored) or dead-lettered
 * with code FILTERED. It reads the columns enrich built, so it runs after enrich (the spec's order rule).
 */
import type { Batch } from "../batch.ts";
import { columnAttribute, type EnrichedEvents } from "../batch-data.ts";
import { ConfigError } from "../../errors/index.ts";
import type { Stage, StageContext, StageHealth } from "../stage.ts";
import { FILTERED_CODE, type FilterStageConfig } from "./config.ts";
import { evaluate, parseExpression, type Expr } from "./expression.ts";

/** An event's attribute as text, or undefined when it has none: core attributes from their columns, the rest from its extensions. */
function attributeOf(ev: EnrichedEvents, i: number, attr: string, extensions: () => Record<string, unknown>): string | undefined {
  const column = columnAttribute(ev, i, attr);
  if (column !== undefined) return column ?? undefined;
  if (attr === "specversion") return "1.0"; // enrich accepts only CloudEvents 1.0
  const v = extensions()[attr];
  if (v === undefined || v === null) return undefined;
  return typeof v === "string" ? v : typeof v === "object" ? JSON.stringify(v) : String(v);
}

/** The filter stage. */
export class FilterStage implements Stage {
  readonly kind = "filter";
  readonly name: string;
  private readonly expr: Expr;

  constructor(private readonly cfg: FilterStageConfig) {
    this.name = cfg.name;
    this.expr = parseExpression(cfg.expression);
  }

  async start(_ctx: StageContext): Promise<void> {}

  async process(batch: Batch): Promise<void> {
    const ev = batch.events;
    if (!ev) throw new ConfigError("CONFIG_INVALID", `filter stage ${this.name}: batch ${batch.id} has no enriched events (filter must run after enrich)`);
    const keepWhenMatched = this.cfg.mode === "keep";
    for (const i of batch.liveIndexes()) {
      let ext: Record<string, unknown> | undefined;
      // Extensions are JSON text; decoded at most once per event, and only when the expression reads one.
      const extensions = () => (ext ??= JSON.parse(ev.extensions[i] || "{}") as Record<string, unknown>);
      const matched = evaluate(this.expr, (attr) => attributeOf(ev, i, attr, extensions));
      if (matched === keepWhenMatched) continue;
      if (this.cfg.onFiltered === "drop") batch.markFiltered(i);
      else batch.reject(i, { stage: this.name, code: FILTERED_CODE, reason: `${this.cfg.mode === "keep" ? "not kept by" : "dropped by"} ${JSON.stringify(this.cfg.expression)}` });
    }
  }

  async health(): Promise<StageHealth> {
    return { ok: true };
  }

  async close(): Promise<void> {}
}

/** Creates the filter stage (the expression was validated at load; a bad one throws ConfigError here too). */
export function createFilterStage(cfg: FilterStageConfig): FilterStage {
  try {
    return new FilterStage(cfg);
  } catch (err) {
    throw new ConfigError("CONFIG_INVALID", `filter stage ${cfg.name}: ${(err as Error).message}`, [], err);
  }
}
