/**
 * The correctness audit of one generator run through a pipeline: every unique event persisted exactly once,
 * every injected duplicate dropped, every injected invalid event dead-lettered with the right code, nothing
 * else in the table or the DLQ, and broker retention ruled out as a cause (retention.ts).
 */
import type { Sql } from "postgres";
import { INVALID_KINDS } from "../loadgen/events.ts";
import type { LoadgenManifest } from "../loadgen/manifest.ts";
import type { DeadLetterMismatch, DeadLetterTally } from "./dead-letters.ts";
import { retentionVerdict, type RetentionEvidence } from "./retention.ts";
import { countRunRows, duplicatedIdentities, missingIds } from "./rows.ts";

export interface AuditInput {
  sql: Sql;
  /** The events table, optionally schema-qualified ("public.events"). */
  table: string;
  manifest: LoadgenManifest;
  /** The dead-letter topic read to its end (readDeadLetterTopic) or tallied from messages (tallyDeadLetters). */
  deadLetters: DeadLetterTally;
  /** Duplicates the pipeline reports dropping (the topology's `--json` summary); null skips that check. */
  duplicatesDropped: number | null;
  /**
   * Events the pipeline reports reading a second time after a partition's position moved back (the `--json`
   * summary's `reread`, counted by the engine's offset-jump detector). The table drops each one that was
   * stored before as a duplicate, so up to this many dropped duplicates are re-reads, not injected copies.
   * Default 0.
   */
  reread?: number;
  /**
   * Unique events a filter stage dropped on purpose (the `--json` summary's `filtered`): they have no row and
   * are not lost. Only the count is known, so with a filter the audit checks that rows + filtered cover the
   * unique events, not which ones were filtered. Default 0 (no filter stage).
   */
  filtered?: number;
  retention: RetentionEvidence;
  /** True when the source topic held nothing but this run: then its size must equal the manifest's. */
  sourceIsFresh?: boolean;
  /** How many missing / duplicated ids to list (default 5). */
  samples?: number;
}

/** The audit's fields that can fail. */
export type AuditField =
  | "lost"
  | "duplicated"
  | "unexpected_rows"
  | "duplicates_dropped"
  | "dead_lettered"
  | "dead_letter_codes"
  | "valid_dead_lettered";

/** One failed check. */
export interface AuditFailure {
  field: AuditField;
  expected: number;
  actual: number;
  detail: string;
}

/** The audit's verdict. `ok` is true only for a valid run with no failure. */
export interface AuditReport {
  ok: boolean;
  /** Why the run proves nothing (broker retention, incomplete manifest); null for a valid run. */
  invalid_run: string | null;
  run_id: string;
  produced_unique: number;
  persisted_unique: number;
  duplicates_injected: number;
  duplicates_dropped: number | null;
  /** Events re-read after a backward reset (their drops as duplicates are accounted, see AuditInput.reread). */
  reread: number;
  /** Unique events a filter stage dropped on purpose (not lost). */
  filtered: number;
  invalid_injected: number;
  dead_lettered: number;
  /** Unique events with no row. */
  lost: number;
  /** Extra rows sharing an identity (source, id) with another row of the run. */
  duplicated: number;
  unexpected_rows: number;
  missing_ids: string[];
  duplicated_ids: Array<{ source: string; id: string; rows: number }>;
  dead_letter_mismatches: DeadLetterMismatch[];
  failures: AuditFailure[];
  warnings: string[];
}

/** Audits one run (see the module doc); throws LoadgenError AUDIT_QUERY_FAILED when the table can't be read. */
export async function audit(input: AuditInput): Promise<AuditReport> {
  const { sql, table, manifest: m, deadLetters: dlq } = input;
  const samples = input.samples ?? 5;
  const rows = await countRunRows(sql, table, m.runId, m.unique);
  const filtered = input.filtered ?? 0;
  const lost = m.unique - rows.persistedUnique - filtered;
  const duplicated = rows.rows - rows.identities;
  const failures: AuditFailure[] = [];
  const fail = (field: AuditField, expected: number, actual: number, detail: string) => failures.push({ field, expected, actual, detail });

  const missing = lost > 0 ? await missingIds(sql, table, m.runId, m.unique, samples) : [];
  const dupIds = duplicated > 0 ? await duplicatedIdentities(sql, table, m.runId, samples) : [];
  if (lost > 0) fail("lost", 0, lost, `${lost} of ${m.unique} unique events have no row${filtered ? ` (besides ${filtered} filtered)` : ""} (e.g. ${missing.join(", ")})`);
  if (duplicated > 0)
    fail("duplicated", 0, duplicated, `${duplicated} extra rows share an identity (e.g. ${dupIds.map((d) => `${d.source} ${d.id} x${d.rows}`).join(", ")})`);
  if (rows.unexpected > 0) fail("unexpected_rows", 0, rows.unexpected, `${rows.unexpected} rows of run ${m.runId} have ids outside the manifest (invalid events persisted?)`);
  // Events re-read after a backward reset come through again: each is dropped as a duplicate of the row
  // stored before, or dead-lettered a second time. Those are the only excess either count may have.
  const reread = input.reread ?? 0;
  const dropped = input.duplicatesDropped;
  const excessDrops = dropped === null ? 0 : dropped - m.duplicates;
  const excessDeadLetters = dlq.injected - m.invalid.total;
  const allowance = reread - Math.max(0, excessDrops) - Math.max(0, excessDeadLetters);
  const rereadNote = reread > 0 ? ` (${reread} events were re-read after a backward reset: each may be dropped or dead-lettered once more)` : "";
  if (dropped !== null && (excessDrops < 0 || (excessDrops > 0 && allowance < 0)))
    fail("duplicates_dropped", m.duplicates, dropped, `the pipeline dropped ${dropped} duplicates, ${m.duplicates} were injected${rereadNote}`);
  const kindGaps = INVALID_KINDS.filter((k) => dlq.byKind[k] < m.invalid.byKind[k] || (dlq.byKind[k] > m.invalid.byKind[k] && allowance < 0)).map(
    (k) => `${k}: ${dlq.byKind[k]} of ${m.invalid.byKind[k]}`,
  );
  if (excessDeadLetters < 0 || (excessDeadLetters > 0 && allowance < 0) || kindGaps.length)
    fail("dead_lettered", m.invalid.total, dlq.injected, `dead-letter topic holds ${dlq.injected} of ${m.invalid.total} injected invalid events${kindGaps.length ? ` (${kindGaps.join(", ")})` : ""}${rereadNote}`);
  if (dlq.mismatches - dlq.validRejected > 0)
    fail("dead_letter_codes", 0, dlq.mismatches - dlq.validRejected, `dead letters with a wrong code or no reason: ${JSON.stringify(dlq.mismatchSamples.filter((s) => s.kind !== "valid"))}`);
  if (dlq.validRejected > 0) fail("valid_dead_lettered", 0, dlq.validRejected, `${dlq.validRejected} valid events of the run were dead-lettered`);

  const warnings: string[] = [];
  let invalid: string | null = null;
  if (!m.complete) invalid = "the manifest is incomplete: the generator did not get every delivery acknowledged";
  const sourceMessages = input.retention.source.reduce((n, w) => n + w.high, 0);
  if (!invalid && input.sourceIsFresh && sourceMessages !== m.messages)
    invalid = `the source topic holds ${sourceMessages} messages but the manifest lists ${m.messages}: it was not fresh, or the broker lost acknowledged messages`;
  if (!invalid) {
    const v = retentionVerdict(input.retention, failures.length === 0);
    invalid = v.invalid;
    warnings.push(...v.warnings);
  }
  return {
    ok: invalid === null && failures.length === 0,
    invalid_run: invalid,
    run_id: m.runId,
    produced_unique: m.unique,
    persisted_unique: rows.persistedUnique,
    duplicates_injected: m.duplicates,
    duplicates_dropped: input.duplicatesDropped,
    reread,
    filtered,
    invalid_injected: m.invalid.total,
    dead_lettered: dlq.injected,
    lost,
    duplicated,
    unexpected_rows: rows.unexpected,
    missing_ids: missing,
    duplicated_ids: dupIds,
    dead_letter_mismatches: dlq.mismatchSamples,
    failures,
    warnings,
  };
}

/** Human-readable lines for an audit report (for the CLI tools). */
export function formatAudit(r: AuditReport): string {
  const lines = [
    `audit of run ${r.run_id}: ${r.invalid_run ? "INVALID RUN" : r.ok ? "PASS" : "FAIL"}`,
    `  unique produced ${r.produced_unique}, persisted ${r.persisted_unique}${r.filtered ? `, filtered ${r.filtered}` : ""}, lost ${r.lost}, duplicated rows ${r.duplicated}`,
    `  duplicates injected ${r.duplicates_injected}, dropped ${r.duplicates_dropped ?? "n/a"}${r.reread ? ` (${r.reread} re-read after a backward reset)` : ""}; invalid injected ${r.invalid_injected}, dead-lettered ${r.dead_lettered}`,
  ];
  if (r.invalid_run) lines.push(`  invalid run: ${r.invalid_run}`);
  for (const f of r.failures) lines.push(`  FAIL ${f.field}: expected ${f.expected}, got ${f.actual}: ${f.detail}`);
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  return lines.join("\n");
}
