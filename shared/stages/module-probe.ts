/**
 * Loading user modules (an enrich module, a custom stage) under a deadline. A module that throws at import,
 * exports the wrong thing, calls process.exit, never finishes loading (a top-level await that never settles)
 * or spins at import must fail fast with its path and CONFIG_MODULE_LOAD — in `--validate` and when a worker
 * starts — never leave a worker hanging unready with nothing in the log.
 *
 * The probe imports the module in a throw-away thread (workers/module-probe-thread.ts), the only way to put a
 * deadline on code that may block its thread forever. The module's top-level code therefore runs once more
 * than usual: in the probe thread, which is then terminated.
 */
import { Worker } from "node:worker_threads";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../errors/index.ts";

/** What kind of user module: what its exports must look like. */
export type ModuleKind = "enrich" | "custom";

/** The probe thread's input. */
export interface ProbeRequest {
  path: string;
  kind: ModuleKind;
}

/** Default deadline for a user module to load (import, and a custom stage's factory); TOPOFLEET_MODULE_START_TIMEOUT_MS overrides it. */
export const DEFAULT_MODULE_START_TIMEOUT_MS = 30_000;

/** The start-up deadline for user modules, from TOPOFLEET_MODULE_START_TIMEOUT_MS (milliseconds) or the default. */
export function moduleStartTimeoutMs(env: Record<string, string | undefined> = process.env): number {
  const raw = env.TOPOFLEET_MODULE_START_TIMEOUT_MS;
  const v = raw === undefined || raw === "" ? NaN : Number(raw);
  return Number.isFinite(v) && v > 0 ? v : DEFAULT_MODULE_START_TIMEOUT_MS;
}

// The exit code of a thread whose module graph is still waiting on a top-level await when nothing else is left.
const UNSETTLED_TOP_LEVEL_AWAIT = 13;

const PROBE_THREAD = fileURLToPath(new URL("../../workers/module-probe-thread.ts", import.meta.url));

/** Why the exports of a module do not fit its kind, or null when they do. */
export function moduleShapeProblem(mod: Record<string, unknown>, kind: ModuleKind): string | null {
  if (kind === "enrich") {
    return typeof mod.default === "function" || typeof mod.enrichEvent === "function" ? null : "the module exports neither a default function nor enrichEvent";
  }
  const d = mod.default as { process?: unknown } | undefined | null;
  if (typeof d === "function") return null;
  if (d && typeof d === "object" && typeof d.process === "function") return null;
  return d === undefined
    ? "the module has no default export; export default a StageFactory or a Stage object"
    : `the default export is ${describeValue(d)}; expected a StageFactory function or a Stage object with process(batch)`;
}

/** "null", "array" or the typeof of a value, for messages about what a module exported or returned. */
export const describeValue = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

/** The error naming the module, what it is for and why it cannot be used. */
export function moduleLoadError(what: string, path: string, why: string, cause?: unknown): ConfigError {
  return new ConfigError("CONFIG_MODULE_LOAD", `${what}: ${why} (module ${path})`, [], cause);
}

/**
 * Imports `path` in a probe thread within `timeoutMs`; throws ConfigError CONFIG_MODULE_LOAD naming `what`
 * and the path when it throws, exits, exports the wrong thing or does not finish in time.
 */
export function probeModule(what: string, path: string, kind: ModuleKind, timeoutMs = moduleStartTimeoutMs()): Promise<void> {
  return new Promise((resolve, reject) => {
    const thread = new Worker(PROBE_THREAD, { workerData: { path, kind } satisfies ProbeRequest });
    let settled = false;
    const settle = (problem: string | null, cause?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void thread.terminate();
      if (problem === null) resolve();
      else reject(moduleLoadError(what, path, problem, cause));
    };
    const timer = setTimeout(
      () => settle(`it did not finish loading within ${timeoutMs} ms (a top-level await that never settles, or a loop at import?)`),
      timeoutMs,
    );
    thread.on("message", (m: { ok: boolean; problem: string | null }) => settle(m.problem));
    thread.on("error", (e) => settle(`it failed while loading: ${e instanceof Error ? e.message : String(e)}`, e));
    thread.on("exit", (code) =>
      settle(
        code === UNSETTLED_TOP_LEVEL_AWAIT
          ? "it never finishes loading: a top-level await that never settles"
          : `its thread exited (code ${code}) while the module loaded: does it call process.exit at import?`,
      ),
    );
  });
}

/** Resolves with `p`, or rejects with CONFIG_MODULE_LOAD when it does not settle within `timeoutMs` (`step` says what was awaited). */
export function withinModuleDeadline<T>(p: Promise<T>, what: string, path: string, step: string, timeoutMs = moduleStartTimeoutMs()): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(moduleLoadError(what, path, `${step} did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
