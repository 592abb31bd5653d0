/**
 * The engine's crash hook (shared/runtime/engine/fault-points.ts): inert without TOPOFLEET_FAULT, strict
 * about its syntax, and when armed it SIGKILLs the process at exactly the n-th batch past the named stage,
 * once per TOPOFLEET_FAULT_ONCE file. Runs in the normal `bun test` (fast, no services).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { faultPointsFromEnv, parseFaultSpec } from "../../shared/runtime/engine/fault-points.ts";
import { tempDir } from "../../dev/support/temp-dir.ts";

const tmp = tempDir("fault-points");
const dir = tmp.dir;
afterAll(() => tmp.cleanup());

const MODULE = resolve(import.meta.dir, "../../shared/runtime/engine/fault-points.ts");

/** Runs the hook in a child process: stages passed in order, printing each one it survived. */
async function runChild(env: Record<string, string>, stages: string[]): Promise<{ stdout: string; signal: string | null; code: number | null }> {
  const script = `
    const { faultPointsFromEnv } = await import(${JSON.stringify(MODULE)});
    const f = faultPointsFromEnv(process.env);
    for (const s of ${JSON.stringify(stages)}) { f?.afterStage(s); console.log("passed " + s); }
  `;
  const proc = Bun.spawn([process.execPath, "-e", script], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "ignore" });
  const stdout = await new Response(proc.stdout).text();
  await proc.exited;
  return { stdout, signal: proc.signalCode === null || proc.signalCode === undefined ? null : String(proc.signalCode), code: proc.exitCode };
}

describe("fault points", () => {
  test("parses crash-after:<kind>[:<n>] and rejects anything else", () => {
    expect(parseFaultSpec("crash-after:dedupe")).toEqual({ stageKind: "dedupe", nth: 1 });
    expect(parseFaultSpec("crash-after:persist:7")).toEqual({ stageKind: "persist", nth: 7 });
    for (const bad of ["crash-before:dedupe", "crash-after:", "crash-after:persist:0", "crash-after:Persist", "kill"]) {
      expect(() => parseFaultSpec(bad)).toThrow("TOPOFLEET_FAULT");
    }
  });

  test("inert without TOPOFLEET_FAULT, and when the once-file already exists", () => {
    expect(faultPointsFromEnv({})).toBeNull();
    const once = join(dir, "already");
    writeFileSync(once, "");
    expect(faultPointsFromEnv({ TOPOFLEET_FAULT: "crash-after:persist", TOPOFLEET_FAULT_ONCE: once })).toBeNull();
  });

  test("SIGKILLs the process right after the n-th batch past the stage, once per once-file", async () => {
    const once = join(dir, "crashed");
    const env = { TOPOFLEET_FAULT: "crash-after:persist:2", TOPOFLEET_FAULT_ONCE: once };
    const stages = ["enrich", "dedupe", "persist", "enrich", "dedupe", "persist", "enrich"];
    const first = await runChild(env, stages);
    expect(first.signal).toBe("SIGKILL");
    // Killed inside the 2nd persist call: the 1st passed, the 2nd never returned.
    expect(first.stdout.trim().split("\n")).toEqual(["passed enrich", "passed dedupe", "passed persist", "passed enrich", "passed dedupe"]);
    expect(existsSync(once)).toBe(true);
    expect(readFileSync(once, "utf8")).toContain("crash-after:persist:2");
    // The restarted process finds the once-file and runs clean.
    const second = await runChild(env, stages);
    expect(second.signal).toBeNull();
    expect(second.code).toBe(0);
    expect(second.stdout.trim().split("\n")).toHaveLength(stages.length);
  }, 30_000);
});
