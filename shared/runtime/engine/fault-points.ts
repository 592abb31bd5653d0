/**
 * TEST HOOK for the fault-injection suite (test/faults): deterministic crash points inside the pipeline.
 * Inert unless the TOPOFLEET_FAULT environment variable is set; production never sets it. The worker process
 * reads it once at its edge (worker-main.ts) and hands the hook to the engine through EngineOptions.faults.
 *
 * `TOPOFLEET_FAULT=crash-after:<stage kind>[:<n>]` makes the worker SIGKILL itself right after the n-th
 * batch (default 1) has passed the stage of that kind, before anything later happens to that batch. Two
 * points matter for exactness:
 * - `crash-after:dedupe`: the Bloom bits are set but the rows are not committed: the replayed events are
 *   "maybe seen", and verification against PostgreSQL must keep them (no loss).
 * - `crash-after:persist`: the rows are committed but the offsets are not: the replayed events conflict in
 *   PostgreSQL and must become duplicates (no second row).
 * `TOPOFLEET_FAULT_ONCE=<file>` makes the crash happen once per file: the hook creates the file before
 * killing, and a worker that finds it at start stays inert, so the supervisor's restart runs clean.
 *
 * SIGKILL (not an exception, not process.exit) because that is what a real crash looks like: no finally
 * blocks, no shutdown commit, no flushed logs.
 */
import { existsSync, writeFileSync } from "node:fs";

/** Where the pipeline reports its progress to the hook. */
export interface FaultPoints {
  /** A batch has just passed the stage of `kind`; may not return. */
  afterStage(kind: string): void;
}

/** The parsed TOPOFLEET_FAULT setting. */
export interface CrashSpec {
  stageKind: string;
  nth: number;
}

/** Parses `crash-after:<kind>[:<n>]`; throws on anything else so a typo in a test never silently disarms it. */
export function parseFaultSpec(raw: string): CrashSpec {
  const m = /^crash-after:([a-z][a-z0-9_-]*)(?::([1-9][0-9]*))?$/.exec(raw.trim());
  if (!m) throw new Error(`TOPOFLEET_FAULT must be "crash-after:<stage kind>[:<n>]", got "${raw}"`);
  return { stageKind: m[1], nth: m[2] ? Number(m[2]) : 1 };
}

/** The hook from the environment, or null (inert) when TOPOFLEET_FAULT is unset or its once-file exists. */
export function faultPointsFromEnv(env: Record<string, string | undefined> = process.env): FaultPoints | null {
  const raw = env.TOPOFLEET_FAULT;
  if (!raw) return null;
  const spec = parseFaultSpec(raw);
  const once = env.TOPOFLEET_FAULT_ONCE || null;
  if (once && existsSync(once)) return null;
  let seen = 0;
  return {
    afterStage(kind: string): void {
      if (kind !== spec.stageKind || ++seen !== spec.nth) return;
      if (once) writeFileSync(once, `${process.pid} crash-after:${kind}:${seen}\n`);
      process.kill(process.pid, "SIGKILL");
    },
  };
}
