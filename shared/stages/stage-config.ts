/**
 * The base of every stage config, apart from the Stage contract so that config types (which the enrich needs
 * refer to) never import the contract (which refers to the needs).
 */

/** What every resolved stage config has; each stage's config type (in its folder) extends it. */
export interface StageConfigBase {
  kind: string;
  /** Unique in the pipeline; metric label and dead-letter header. */
  name: string;
}
