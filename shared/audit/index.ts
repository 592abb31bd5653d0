/**
 * Correctness audit of a load-generator run: table rows vs the manifest, the dead-letter topic vs the
 * injected invalid events, the pipeline's duplicate count vs the injected duplicates, and broker retention.
 */
export { audit, formatAudit, type AuditFailure, type AuditField, type AuditInput, type AuditReport } from "./audit.ts";
export {
  emptyTally,
  tallyDeadLetter,
  tallyDeadLetters,
  type DeadLetterMessage,
  type DeadLetterMismatch,
  type DeadLetterTally,
} from "./dead-letters.ts";
export { deletedMessages, retentionVerdict, type PartitionWatermarks, type RetentionEvidence } from "./retention.ts";
export { countRunRows, duplicatedIdentities, missingIds, type RunRows } from "./rows.ts";
export { readDeadLetterTopic } from "./dead-letter-topic.ts";
export { RetentionWatcher } from "./retention-watch.ts";
export { runTiming, type RunTiming } from "./latency.ts";
