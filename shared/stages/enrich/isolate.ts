/**
 * Poison-event isolation. A thread that dies fails its whole slice (retriable ENRICH_POOL_FAILED). When the
 * same batch kills a thread again on its retry, the crash is taken to be caused by an event, not by the
 * environment: the slice is bisected into smaller tasks until the single events that kill a thread on their
 * own are found, and only those are dead-lettered (ENRICH_THREAD_CRASHED). Without this, one such event
 * would stop its partition forever, every retry dying on it again. A slice past its deadline
 * (ENRICH_SLICE_TIMEOUT: the thread was terminated) is treated the same way, and an event that is too slow
 * alone is dead-lettered with ENRICH_TIMEOUT.
 */
import { EnrichError } from "../../errors/index.ts";
import { EnrichRejectCode } from "./codes.ts";
import { STRING_COLUMNS, type EnrichSliceOk } from "./protocol.ts";
import type { SliceRange } from "./slices.ts";

/** A slice result with the range it covers. */
export interface RangeResult {
  range: SliceRange;
  slice: EnrichSliceOk;
}

/** True for the failure a dying or terminated thread produces (not a module load error, not a full queue). */
export function isThreadDeath(e: unknown): boolean {
  return e instanceof EnrichError && (e.code === "ENRICH_POOL_FAILED" || e.code === "ENRICH_SLICE_TIMEOUT") && e.retriable;
}

/** The result for one record that killed (or outlasted) its thread alone: empty columns and a rejection. */
function crashedRecord(e: EnrichError): EnrichSliceOk {
  const rejection: [number, EnrichRejectCode, string] =
    e.code === "ENRICH_SLICE_TIMEOUT"
      ? [0, EnrichRejectCode.Timeout, `processing this event alone outlasted the slice deadline: ${e.message}`]
      : [0, EnrichRejectCode.ThreadCrashed, `an enrich thread died processing this event alone: ${e.message}`];
  const strings = {} as EnrichSliceOk["strings"];
  for (const c of STRING_COLUMNS) strings[c] = { text: "", lengths: new Int32Array(1) };
  return {
    ok: true,
    strings,
    time: Float64Array.of(NaN),
    probes: new Uint32Array(0),
    copy: { bytes: new Uint8Array(0), starts: new Uint32Array(2) },
    rejections: [rejection],
    warnings: [],
  };
}

/**
 * Runs `range` through `run`, bisecting on thread deaths (see the module comment). Results come back in
 * record order and cover the range exactly; any other error is thrown as it is.
 */
export async function runIsolating(range: SliceRange, run: (range: SliceRange) => Promise<EnrichSliceOk>): Promise<RangeResult[]> {
  try {
    return [{ range, slice: await run(range) }];
  } catch (e) {
    if (!isThreadDeath(e)) throw e;
    if (range.end - range.start <= 1) return [{ range, slice: crashedRecord(e as EnrichError) }];
    const mid = range.start + Math.floor((range.end - range.start) / 2);
    const left = await runIsolating({ start: range.start, end: mid }, run);
    const right = await runIsolating({ start: mid, end: range.end }, run);
    return [...left, ...right];
  }
}
