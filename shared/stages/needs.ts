/**
 * What a stage after enrich needs the enrich threads to prepare for it, declared by that stage (its
 * StageSpec's `enrichNeeds`), never assumed by the batch model. The enrich plan (enrich/plan.ts) is built
 * from the union of the declarations of the stages after enrich, so a new sink asks for the per-event work it
 * wants done off the main thread without enrich naming it, and a pipeline without it pays for none of it.
 *
 * Every kind of need has one slot in EnrichedEvents, so two stages that ask for the same kind must ask for
 * the same thing (two different Bloom layouts or COPY column lists would need two encodings per event):
 * mergeNeeds rejects that with a ConfigError naming both stages.
 */
import { ConfigError } from "../errors/index.ts";
import type { BloomLayout } from "./dedupe/bloom-math.ts";
import type { COLUMN_SOURCES } from "./persist/config.ts";

/** A column of an encoded row: a CloudEvents attribute, or the event's Kafka position. */
export type RowColumn = (typeof COLUMN_SOURCES)[number];

/** What one stage asks of enrich (every member optional: most stages ask for nothing). */
export interface EnrichNeeds {
  /**
   * Bloom probe bit offsets of each event's identity (EnrichedEvents.probes): the identity is `keyFields`
   * joined, hashed for `layout` (shared/stages/dedupe/bloom-math.ts).
   */
  probes?: { keyFields: string[]; layout: BloomLayout };
  /**
   * Each event as one PostgreSQL COPY text line with these columns (EnrichedEvents.copyBytes), checked
   * against PostgreSQL's limits for them (enrich/sink-limits.ts), and, with `partitionWindow`, its time
   * checked against the day partitions that exist.
   */
  copyRows?: { columns: RowColumn[]; partitionWindow: { retentionDays: number; aheadDays: number } | null };
  /** Each event as CloudEvents structured-mode JSON (EnrichedEvents.jsonBytes), e.g. to produce it to Kafka. */
  json?: boolean;
}

/** A stage's declaration with the stage's name, for conflict messages. */
export interface DeclaredNeeds {
  stage: string;
  needs: EnrichNeeds;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** The union of the declarations; a ConfigError when two stages ask for different encodings of one kind. */
export function mergeNeeds(declared: readonly DeclaredNeeds[]): EnrichNeeds {
  const out: EnrichNeeds = {};
  const from: Partial<Record<keyof EnrichNeeds, string>> = {};
  const take = <K extends keyof EnrichNeeds>(key: K, stage: string, value: EnrichNeeds[K]) => {
    if (value === undefined || value === false) return;
    if (out[key] !== undefined && !same(out[key], value)) {
      throw new ConfigError(
        "CONFIG_INVALID",
        `stages "${from[key]}" and "${stage}" need different ${key} from enrich; the enrich threads build one ${key} per event`,
      );
    }
    out[key] = value;
    from[key] ??= stage;
  };
  for (const { stage, needs } of declared) {
    take("probes", stage, needs.probes);
    take("copyRows", stage, needs.copyRows);
    take("json", stage, needs.json);
  }
  return out;
}
