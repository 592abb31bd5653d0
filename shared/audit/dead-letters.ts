/**
 * Tallies the dead-letter topic against a run: how many of the run's injected invalid events came back,
 * per kind, and whether each carries the rejection code its kind should produce (the DLQ headers written by
 * the engine, shared/runtime/engine/dead-letter.ts). Pure: the Kafka reading is in read-topic.ts.
 */
import { DLQ_HEADERS } from "../runtime/engine/dead-letter.ts";
import { EXPECTED_REJECTION_CODE, HEADER_INVALID, HEADER_RUN, INVALID_KINDS, type InvalidKind } from "../loadgen/events.ts";
import { parseUniqueId } from "../loadgen/manifest.ts";

/** The parts of a dead-letter message the tally reads. */
export interface DeadLetterMessage {
  headers: ReadonlyArray<readonly [string, Uint8Array | string | null]> | null;
  value: Uint8Array | string | null;
}

/** One dead letter whose code or reason is not what its kind should produce. */
export interface DeadLetterMismatch {
  kind: InvalidKind | "valid";
  expectedCode: string | null;
  code: string | null;
  reason: string | null;
}

/** What the DLQ holds for one run. */
export interface DeadLetterTally {
  /** Messages read from the topic (all runs). */
  total: number;
  /** Dead letters of this run's injected invalid events. */
  injected: number;
  byKind: Record<InvalidKind, number>;
  /** Valid events of this run that were dead-lettered (a pipeline bug or a rejecting sink). */
  validRejected: number;
  /** Dead letters from other runs or other producers (ignored). */
  foreign: number;
  /** Wrong code, or an empty reason (first few kept, all counted). */
  mismatches: number;
  mismatchSamples: DeadLetterMismatch[];
}

const decoder = new TextDecoder();
const text = (v: Uint8Array | string | null | undefined): string | null => (v == null ? null : typeof v === "string" ? v : decoder.decode(v));

const header = (m: DeadLetterMessage, name: string): string | null => {
  if (!m.headers) return null;
  for (const [k, v] of m.headers) if (k === name) return text(v);
  return null;
};

/** The CloudEvents id of a dead-lettered message: the ce_id header (binary mode) or the JSON `id`. */
function eventId(m: DeadLetterMessage): string | null {
  const h = header(m, "ce_id");
  if (h !== null) return h;
  const v = text(m.value);
  if (v === null) return null;
  try {
    const id = (JSON.parse(v) as { id?: unknown }).id;
    return typeof id === "string" ? id : null;
  } catch {
    return null; // malformed JSON: not one of the run's valid events (those are generated well-formed)
  }
}

/** An empty tally. */
export function emptyTally(): DeadLetterTally {
  return {
    total: 0,
    injected: 0,
    byKind: { malformed_json: 0, missing_attribute: 0, bad_time: 0, wrong_specversion: 0 },
    validRejected: 0,
    foreign: 0,
    mismatches: 0,
    mismatchSamples: [],
  };
}

/** Adds one dead letter to a tally for `runId` (mutates and returns it). */
export function tallyDeadLetter(t: DeadLetterTally, runId: string, m: DeadLetterMessage): DeadLetterTally {
  t.total++;
  const code = header(m, DLQ_HEADERS.code);
  const reason = header(m, DLQ_HEADERS.reason);
  const noteMismatch = (kind: InvalidKind | "valid", expectedCode: string | null) => {
    t.mismatches++;
    if (t.mismatchSamples.length < 5) t.mismatchSamples.push({ kind, expectedCode, code, reason });
  };
  const run = header(m, HEADER_RUN);
  if (run === runId) {
    const kind = header(m, HEADER_INVALID) as InvalidKind | null;
    if (kind === null || !INVALID_KINDS.includes(kind)) {
      noteMismatch("valid", null);
      return t;
    }
    t.injected++;
    t.byKind[kind]++;
    if (code !== EXPECTED_REJECTION_CODE[kind] || !reason) noteMismatch(kind, EXPECTED_REJECTION_CODE[kind]);
    return t;
  }
  if (run === null) {
    const id = eventId(m);
    if (id !== null && parseUniqueId(runId, id) !== null) {
      t.validRejected++;
      noteMismatch("valid", null);
      return t;
    }
  }
  t.foreign++;
  return t;
}

/** Tallies a list of dead letters for `runId`. */
export function tallyDeadLetters(runId: string, messages: Iterable<DeadLetterMessage>): DeadLetterTally {
  const t = emptyTally();
  for (const m of messages) tallyDeadLetter(t, runId, m);
  return t;
}
