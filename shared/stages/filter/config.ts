/** The resolved config of the filter stage (see ./spec.ts for its schema and resolver). */
import type { StageConfigBase } from "../stage-config.ts";

/** Keeps or drops events by an expression over their CloudEvents attributes (./expression.ts). */
export interface FilterStageConfig extends StageConfigBase {
  kind: "filter";
  name: string;
  /** `keep`: events the expression matches go on; `drop`: events it matches are removed. */
  mode: "keep" | "drop";
  /** The expression's text (validated at load; compiled again by the stage, which is cheap). */
  expression: string;
  /** What happens to a removed event: counted as filtered, or dead-lettered with code FILTERED. */
  onFiltered: "drop" | "dead-letter";
}

/** The dead-letter code of events removed with `onFiltered: dead-letter`. */
export const FILTERED_CODE = "FILTERED";
