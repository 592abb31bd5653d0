/**
 * Telling broker retention apart from pipeline loss.
 *
 * librdkafka's mock cluster keeps at most 100,000 messages or 5 MB per partition and silently deletes older
 * ones (NOTES.md); a real broker does the same past retention.ms/bytes. A message deleted before the
 * pipeline consumed it is missing from the table through no fault of the pipeline, so such a run proves
 * nothing either way: it is INVALID, never reported as loss (nor allowed to hide real loss).
 *
 * The rule, exactly:
 * 1. A watcher that saw, during the run, a partition whose low watermark passed the consumer group's
 *    committed offset (the broker deleted messages not yet processed) makes the run invalid.
 * 2. After the run, a source partition with low watermark > 0 had messages deleted at some point. If every
 *    other check passed (nothing lost, counts exact) the deletions happened after consumption: the run is
 *    valid, with a warning. If anything is missing or miscounted, the run is invalid: the two causes cannot
 *    be separated.
 * 3. The same for the dead-letter topic, whose count the audit relies on.
 */
import type { PartitionWatermarks } from "../topic-reader/metadata.ts";

export type { PartitionWatermarks } from "../topic-reader/metadata.ts";

/** What the audit knows about broker-side deletion. */
export interface RetentionEvidence {
  source: PartitionWatermarks[];
  deadLetter?: PartitionWatermarks[];
  /** Violations of rule 1 seen while the run was going on (human-readable, one per observation). */
  observed?: string[];
}

/** Messages deleted by retention over a topic's partitions (sum of low watermarks). */
export function deletedMessages(wms: readonly PartitionWatermarks[]): number {
  return wms.reduce((n, w) => n + Math.max(0, w.low), 0);
}

/** Applies the rule above; `checksPassed` is whether every count of the audit matched. */
export function retentionVerdict(e: RetentionEvidence, checksPassed: boolean): { invalid: string | null; warnings: string[] } {
  if (e.observed?.length) return { invalid: `broker deleted messages before they were consumed: ${e.observed.slice(0, 3).join("; ")}`, warnings: [] };
  const warnings: string[] = [];
  for (const [name, wms] of [["source", e.source], ["dead-letter", e.deadLetter ?? []]] as const) {
    const gone = deletedMessages(wms);
    if (gone === 0) continue;
    const parts = wms.filter((w) => w.low > 0).map((w) => `p${w.partition} low=${w.low}`);
    const what = `retention deleted ${gone} messages of the ${name} topic (${parts.slice(0, 4).join(", ")}${parts.length > 4 ? ", …" : ""})`;
    if (!checksPassed) return { invalid: `${what}; counts do not match, and broker deletion cannot be told apart from pipeline loss`, warnings };
    warnings.push(`${what} after they were processed (all counts matched)`);
  }
  return { invalid: null, warnings };
}
