/**
 * Loading and calling the user enrich module inside a thread (contract: module-api.ts).
 */
import { pathToFileURL } from "node:url";
import { EnrichRejectCode as C, EventReject } from "./codes.ts";
import type { CloudEvent, EnrichBatchFunction, EnrichEventFunction, EnrichModuleContext } from "./module-api.ts";

/**
 * Makes `process.exit` inside this thread throw instead of ending the thread. A module that calls it for
 * some events would otherwise kill a thread per event, and each death costs a thread start plus a bisection
 * step (isolate.ts): thousands of them took minutes. Thrown, it is that event's USER_MODULE_THREW like any
 * other throw, found in one pass. Only for enrich threads: installed before the module is imported, so a
 * module that keeps a reference to `process.exit` keeps this one. (A real thread death still isolates.)
 */
export function guardProcessExit(): void {
  const exit = (code?: number | string | null) => {
    throw new Error(`called process.exit(${code ?? ""}) in an enrich thread; reject the event instead (return null or an Error)`);
  };
  process.exit = exit as typeof process.exit;
}

/** The module's entry points. */
export interface EnrichModule {
  path: string;
  batch: EnrichBatchFunction | null;
  perEvent: EnrichEventFunction | null;
}

/** Imports the module; throws an Error naming the path when it cannot be imported or exports neither function. */
export async function loadEnrichModule(path: string): Promise<EnrichModule> {
  let mod: Record<string, unknown>;
  try {
    mod = await import(pathToFileURL(path).href);
  } catch (e) {
    throw new Error(`enrich module ${path} could not be imported: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const batch = typeof mod.default === "function" ? (mod.default as EnrichBatchFunction) : null;
  const perEvent = typeof mod.enrichEvent === "function" ? (mod.enrichEvent as EnrichEventFunction) : null;
  if (!batch && !perEvent) throw new Error(`enrich module ${path} exports neither a default function nor enrichEvent`);
  return { path, batch, perEvent };
}

const describe = (v: unknown): string => (v === undefined ? "undefined" : Array.isArray(v) ? "an array" : typeof v);
const thrownMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** What one returned value means for its event (see module-api.ts). */
function interpret(r: unknown): CloudEvent | EventReject {
  if (r === null) return new EventReject(C.UserModuleRejected, "rejected by the enrich module");
  if (r instanceof Error) return new EventReject(C.UserModuleRejected, r.message || "rejected by the enrich module");
  if (typeof r === "object" && !Array.isArray(r)) return r as CloudEvent;
  return new EventReject(C.UserModuleThrew, `enrich module returned ${describe(r)} instead of a CloudEvent, null or an Error`);
}

/** Runs the module for one event alone; a throw becomes that event's USER_MODULE_THREW. */
async function runOne(mod: EnrichModule, event: CloudEvent, ctx: EnrichModuleContext): Promise<CloudEvent | EventReject> {
  try {
    if (mod.perEvent) return interpret(await mod.perEvent(event, ctx));
    const r = await mod.batch!([event], ctx);
    if (!Array.isArray(r) || r.length !== 1) {
      return new EventReject(C.UserModuleThrew, `enrich module returned ${describe(r)}${Array.isArray(r) ? ` of ${r.length}` : ""} for a batch of 1 event`);
    }
    return interpret(r[0]);
  } catch (e) {
    return new EventReject(C.UserModuleThrew, `enrich module threw: ${thrownMessage(e)}`);
  }
}

/** Per-event outcomes of one module run, and why the batch call failed as a whole (null when it did not). */
export interface ModuleRun {
  outcomes: Array<CloudEvent | EventReject>;
  batchFailure: string | null;
}

/**
 * Runs the module over `events`. With a batch function, one call; if that call fails as a whole, each event is
 * run alone on a fresh copy from `freshEvent(k)` (the failed call may have mutated the originals), so only the
 * events that fail alone are rejected. `ctxFor(ks)` builds the context for the events at positions `ks`.
 */
export async function runEnrichModule(
  mod: EnrichModule,
  events: CloudEvent[],
  ctxFor: (positions: number[] | null) => EnrichModuleContext,
  freshEvent: (position: number) => CloudEvent,
): Promise<ModuleRun> {
  if (events.length === 0) return { outcomes: [], batchFailure: null };
  if (!mod.batch) {
    return { outcomes: await Promise.all(events.map((e, k) => runOne(mod, e, ctxFor([k])))), batchFailure: null };
  }
  let batchFailure: string;
  try {
    const results = await mod.batch(events, ctxFor(null));
    if (Array.isArray(results) && results.length === events.length) return { outcomes: results.map(interpret), batchFailure: null };
    batchFailure = `returned ${describe(results)}${Array.isArray(results) ? ` of ${results.length}` : ""} for ${events.length} events`;
  } catch (e) {
    batchFailure = `threw: ${thrownMessage(e)}`;
  }
  const outcomes = await Promise.all(events.map((_, k) => runOne(mod, freshEvent(k), ctxFor([k]))));
  return { outcomes, batchFailure };
}
