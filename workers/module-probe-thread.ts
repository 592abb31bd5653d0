/**
 * Thread entry of the user-module probe (shared/stages/module-probe.ts): imports one user module and reports
 * whether it exports what its kind needs. A thread, so that a module that spins or never finishes loading
 * can be given a deadline and terminated.
 */
import { parentPort, workerData } from "node:worker_threads";
import { pathToFileURL } from "node:url";
import { moduleShapeProblem, type ProbeRequest } from "../shared/stages/module-probe.ts";

const { path, kind } = workerData as ProbeRequest;
try {
  const mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  parentPort!.postMessage({ ok: true, problem: moduleShapeProblem(mod, kind) });
} catch (e) {
  parentPort!.postMessage({ ok: false, problem: `cannot import the module: ${e instanceof Error ? e.message : String(e)}` });
}
