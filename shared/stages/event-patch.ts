/**
 * Changing an enriched event after enrich (a custom stage between enrich and the sinks). The change is
 * applied to the batch's columns, which every sink reads, and the event is marked dirty: the rows the enrich
 * threads encoded for it (COPY line, JSON) are stale, so each sink re-encodes dirty events on the main thread
 * from the columns while clean ones keep the bytes the threads built.
 *
 * The identity (id, source, time) cannot change: the dedupe stage has already decided on it, and the sinks
 * recognise their own earlier writes of a re-delivered record by it.
 */
import { isValidAttributeName } from "./enrich/cloudevent.ts";
import type { EnrichedEvents } from "./batch-data.ts";

/** An extension attribute's value (CloudEvents types as JSON carries them); null removes the attribute. */
export type ExtensionValue = string | number | boolean | null;

/** What a stage may change in one event. */
export interface EventPatch {
  type?: string;
  /** null removes the subject. */
  subject?: string | null;
  /** The new `data` as a JSON value (stored as its JSON text); null is JSON null, `undefined` leaves it. */
  data?: unknown;
  /** Extension attributes to set or (null) remove; `tenantid` also sets the event's tenant. */
  extensions?: Record<string, ExtensionValue>;
}

/** Context attributes that are not extensions: a patch sets them through their own member, or not at all. */
const NOT_EXTENSIONS: ReadonlySet<string> = new Set(["specversion", "id", "source", "type", "subject", "time", "data", "data_base64"]);

/** Why a patch cannot be applied (a programming error in the stage that made it), or null. */
function patchProblem(patch: EventPatch): string | null {
  if (patch.type !== undefined && (typeof patch.type !== "string" || patch.type === "")) return "type must be a non-empty string";
  if (patch.subject !== undefined && patch.subject !== null && typeof patch.subject !== "string") return "subject must be a string or null";
  for (const [name, v] of Object.entries(patch.extensions ?? {})) {
    if (!isValidAttributeName(name)) return `extension name ${JSON.stringify(name)} must be lowercase a-z and 0-9`;
    if (NOT_EXTENSIONS.has(name)) return `${name} is not an extension attribute`;
    if (v !== null && typeof v !== "string" && typeof v !== "boolean" && !(typeof v === "number" && Number.isInteger(v))) {
      return `extension ${name} must be a string, an integer, a boolean or null`;
    }
  }
  return null;
}

/** Applies `patch` to event i's columns; throws a TypeError for a patch no event could take. */
export function applyEventPatch(ev: EnrichedEvents, i: number, patch: EventPatch): void {
  const problem = patchProblem(patch);
  if (problem) throw new TypeError(`updateEvent(${i}): ${problem}`);
  if (patch.type !== undefined) ev.type[i] = patch.type;
  if (patch.subject !== undefined) ev.subject[i] = patch.subject;
  if (patch.data !== undefined) {
    const text = JSON.stringify(patch.data);
    if (text === undefined) throw new TypeError(`updateEvent(${i}): data must be a JSON value`);
    ev.data[i] = text;
  }
  const ext = patch.extensions;
  if (ext && Object.keys(ext).length) {
    const current = JSON.parse(ev.extensions[i] || "{}") as Record<string, unknown>;
    for (const [name, v] of Object.entries(ext)) {
      if (v === null) delete current[name];
      else current[name] = v;
      if (name === "tenantid") ev.tenant[i] = v === null ? null : String(v);
    }
    // Sorted like the enrich threads write them (extensionsJson), so a row does not depend on who encoded it.
    const sorted: Record<string, unknown> = {};
    for (const name of Object.keys(current).sort()) sorted[name] = current[name];
    ev.extensions[i] = JSON.stringify(sorted);
  }
}
