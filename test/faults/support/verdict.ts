/**
 * A scenario's final accounting: the audit line it prints and the exactness verdict it must pass.
 */
import { expect } from "bun:test";
import type { AuditReport } from "../../../shared/audit/index.ts";
import type { ConsumedMessage } from "../../../shared/kafka/index.ts";
import type { LoadgenManifest } from "../../../shared/loadgen/index.ts";

/** Final accounting of a scenario, printed as its audit line. */
export interface ScenarioResult {
  report: AuditReport;
  manifest: LoadgenManifest;
  /** Messages in the source topic (generator + extra records). */
  produced: number;
  /** Duplicates the fleet reported dropping (sum over fleet runs; null if a run printed no summary). */
  duplicatesDropped: number | null;
  /** Distinct dead-lettered source records (one per source topic/partition/offset), in DLQ order. */
  deadLetters: ConsumedMessage[];
  /**
   * Extra DLQ copies of already dead-lettered source records. The DLQ is at-least-once: a batch replayed
   * after its dead letters were acknowledged but before its offsets were committed (crash, lost assignment)
   * dead-letters its invalid events again. Zero whenever nothing was replayed.
   */
  deadLetterCopies: number;
  /** Whether the scenario promised no replay (its duplicate counter and DLQ copies must then be exact). */
  exactDuplicates: boolean;
  /** Valid events the scenario makes the database reject on purpose (missing from the table by design). */
  rejectedByDatabase: number;
  /** Worker crashes the supervisors logged ("worker crashed; restarting"), and how many were injected. */
  workerCrashes: number;
  expectedCrashes: number;
  elapsedMs: number;
}

/**
 * True when the audit's only findings are the rows the scenario made the database reject: exactly that many
 * unique events missing from the table, and dead-lettered instead.
 */
export function onlyDatabaseRejections(r: ScenarioResult): boolean {
  const a = r.report;
  if (a.invalid_run || r.rejectedByDatabase === 0 || a.lost !== r.rejectedByDatabase) return false;
  return a.failures.every((f) => f.field === "lost" || f.field === "valid_dead_lettered");
}

/** What breaks exactness beyond the audit's own findings: unplanned worker crashes, DLQ copies without replay. */
export function runProblems(r: ScenarioResult): string[] {
  const out: string[] = [];
  if (r.workerCrashes !== r.expectedCrashes) out.push(`${r.workerCrashes} worker crash(es), ${r.expectedCrashes} injected`);
  if (r.exactDuplicates && r.deadLetterCopies > 0) out.push(`${r.deadLetterCopies} extra DLQ copies in a run without replay`);
  return out;
}

/** The one-line audit summary every scenario prints. */
export function auditLine(label: string, r: ScenarioResult): string {
  const a = r.report;
  const problems = runProblems(r);
  const verdict = a.invalid_run
    ? "INVALID RUN"
    : problems.length
      ? `FAIL (${problems.join("; ")})`
      : a.ok
        ? "PASS"
        : onlyDatabaseRejections(r)
          ? `PASS (the ${r.rejectedByDatabase} rows the database rejects are dead-lettered, not lost)`
          : "FAIL";
  return (
    `[fault] ${label}: produced=${r.produced} (unique ${a.produced_unique}, duplicates ${a.duplicates_injected}, invalid ${a.invalid_injected}) ` +
    `persisted=${a.persisted_unique} duplicates_dropped=${r.duplicatesDropped ?? "n/a"} dead_lettered=${r.deadLetters.length} ` +
    `(extra DLQ copies ${r.deadLetterCopies}) ` +
    `crashes=${r.workerCrashes} lost=${a.lost}${r.rejectedByDatabase ? ` (${r.rejectedByDatabase} of them rejected by the database on purpose)` : ""} duplicated=${a.duplicated} -> ${verdict} in ${(r.elapsedMs / 1000).toFixed(1)} s`
  );
}

/**
 * The exactness verdict every scenario ends with: the audit passed (every unique event in the table once,
 * every injected duplicate dropped, every invalid event dead-lettered with its reason, no retention loss), no
 * worker crash but the injected ones, and, when the scenario promised no replay, no extra dead-letter copies.
 */
export function expectExact(r: ScenarioResult): void {
  expect(r.report.invalid_run).toBeNull();
  expect(r.report.failures).toEqual([]);
  expect(r.report.ok).toBe(true);
  expect(runProblems(r)).toEqual([]);
}
