/** Helpers for the supervisor and CLI integration tests: temp topologies, CLI subprocesses, polling. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dir, "../../..");
export const RECORD_STAGE = join(import.meta.dir, "fixtures/record-stage.ts");
export const CLI = join(REPO, "workers/topology.ts");

/** A temp directory removed by the returned cleanup. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes a topology file into `dir` and returns its path. */
export function writeTopology(dir: string, yaml: string, name = "topology.yaml"): string {
  const file = join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

/** A running `bun workers/topology.ts` with its output collected. */
export interface CliRun {
  proc: ReturnType<typeof Bun.spawn>;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code once the process ended and its output is fully read. */
  exited: Promise<number>;
}

/** Starts the CLI as a subprocess (stdout and stderr captured). */
export function startCli(args: string[], env: Record<string, string | undefined> = {}): CliRun {
  const proc = Bun.spawn([process.execPath, CLI, ...args], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let out = "";
  let err = "";
  const pump = async (s: ReadableStream<Uint8Array>, add: (t: string) => void) => {
    const d = new TextDecoder();
    for await (const c of s) add(d.decode(c, { stream: true }));
  };
  const outDone = pump(proc.stdout as ReadableStream<Uint8Array>, (t) => (out += t));
  const errDone = pump(proc.stderr as ReadableStream<Uint8Array>, (t) => (err += t));
  const exited = Promise.all([proc.exited, outDone, errDone]).then(([code]) => code);
  return { proc, stdout: () => out, stderr: () => err, exited };
}

/** Runs the CLI to completion. */
export async function runCliToEnd(args: string[], env: Record<string, string | undefined> = {}) {
  const run = startCli(args, env);
  const code = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** Polls `check` every 50 ms until it returns a truthy value, or throws after `timeoutMs` naming `what`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 30_000): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(50);
  }
}

/** A TCP port that was free a moment ago (for topologies that need a concrete port). */
export function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = s.port!;
  s.stop(true);
  return port;
}
