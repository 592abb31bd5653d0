/**
 * What a generator run put into Kafka, in a form the audit can check exactly against the database.
 *
 * The unique ids are implied: `<runId>-<n>` for every n in [0, unique). The generator hands out n in order
 * and aborts the whole run (complete = false) if Kafka fails to acknowledge any message, so there is never a
 * gap to list and the file stays the same few hundred bytes for 10 or 10 million events.
 */
import { LoadgenError } from "./errors.ts";
import { INVALID_KINDS, type EventFactory, type InvalidKind, type KeyMode } from "./events.ts";
import type { GeneratorConfig } from "../topology/types.ts";

/** The manifest of one generator run (JSON on disk). */
export interface LoadgenManifest {
  version: 1;
  runId: string;
  topic: string;
  seed: number;
  key: KeyMode;
  config: GeneratorConfig;
  startedAt: string; // RFC 3339
  finishedAt: string;
  /** False when a delivery failed or was not awaited: the counts below are then not exact. */
  complete: boolean;
  /** Messages acknowledged by Kafka (valid + duplicate + invalid). */
  messages: number;
  /** Unique valid events: ids `<runId>-0` ... `<runId>-<unique - 1>`. */
  unique: number;
  /** Extra copies of already-produced valid events. */
  duplicates: number;
  invalid: { total: number; byKind: Record<InvalidKind, number> };
  /** Valid and duplicate messages sent in CloudEvents binary mode. */
  binary: number;
}

/** The manifest for everything `factory` has generated so far (the caller vouches for delivery via `complete`). */
export function manifestOf(
  factory: EventFactory,
  meta: { topic: string; key: KeyMode; config: GeneratorConfig; startedAt: Date; complete: boolean },
): LoadgenManifest {
  const c = factory.counts();
  return {
    version: 1,
    runId: factory.runId,
    topic: meta.topic,
    seed: factory.seed,
    key: meta.key,
    config: { ...meta.config },
    startedAt: meta.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    complete: meta.complete,
    messages: c.records,
    unique: c.unique,
    duplicates: c.duplicates,
    invalid: { total: c.invalid, byKind: c.invalidByKind },
    binary: c.binary,
  };
}

/** The CloudEvents id of the n-th unique event of a run. */
export function uniqueId(runId: string, n: number): string {
  return `${runId}-${n}`;
}

/** n for an id of the form `<runId>-<n>` (a unique event of that run), else null. */
export function parseUniqueId(runId: string, id: string): number | null {
  if (id.length <= runId.length + 1 || !id.startsWith(runId) || id.charCodeAt(runId.length) !== 45 /* - */) return null;
  const rest = id.slice(runId.length + 1);
  if (!/^(0|[1-9][0-9]*)$/.test(rest)) return null;
  return Number(rest);
}

/** Writes the manifest as pretty JSON (atomically: temp file then rename, so readers never see half a file). */
export async function writeManifest(path: string, m: LoadgenManifest): Promise<void> {
  const { rename } = await import("node:fs/promises");
  const tmp = `${path}.tmp-${process.pid}`;
  await Bun.write(tmp, JSON.stringify(m, null, 2) + "\n");
  await rename(tmp, path);
}

/** Reads and checks a manifest file; throws LoadgenError LOADGEN_MANIFEST_INVALID naming what is wrong. */
export async function readManifest(path: string): Promise<LoadgenManifest> {
  let raw: unknown;
  try {
    raw = await Bun.file(path).json();
  } catch (cause) {
    throw new LoadgenError("LOADGEN_MANIFEST_INVALID", `cannot read manifest ${path}: ${(cause as Error).message}`, {
      retriable: false,
      cause,
      context: { path },
    });
  }
  return checkManifest(raw, path);
}

/** Validates a parsed manifest object. */
export function checkManifest(raw: unknown, origin = "manifest"): LoadgenManifest {
  const m = raw as Partial<LoadgenManifest> | null;
  const problems: string[] = [];
  const count = (name: string, v: unknown) => {
    if (!(typeof v === "number" && Number.isInteger(v) && v >= 0)) problems.push(`${name} must be a non-negative integer`);
  };
  if (!m || typeof m !== "object") problems.push("not an object");
  else {
    if (m.version !== 1) problems.push(`unsupported version ${String(m.version)}`);
    if (typeof m.runId !== "string" || !/^[a-z0-9]+$/i.test(m.runId)) problems.push("runId must be alphanumeric");
    if (typeof m.topic !== "string") problems.push("topic must be a string");
    if (typeof m.complete !== "boolean") problems.push("complete must be a boolean");
    count("messages", m.messages);
    count("unique", m.unique);
    count("duplicates", m.duplicates);
    count("binary", m.binary);
    count("invalid.total", m.invalid?.total);
    for (const k of INVALID_KINDS) count(`invalid.byKind.${k}`, m.invalid?.byKind?.[k]);
    if (!problems.length && m.unique! + m.duplicates! + m.invalid!.total !== m.messages)
      problems.push("unique + duplicates + invalid.total must equal messages");
  }
  if (problems.length)
    throw new LoadgenError("LOADGEN_MANIFEST_INVALID", `${origin}: ${problems.join("; ")}`, { retriable: false, context: { origin } });
  return m as LoadgenManifest;
}
