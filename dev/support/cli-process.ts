/**
 * The real `bun workers/topology.ts` CLI as a child process, for the CLI, supervisor, fault and security suites: stdout and
 * stderr are captured as they arrive (and stderr optionally copied to a log file for post-mortems), so a
 * test can wait for a log line, signal the process, and read its `--json` summary.
 */
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import type { RunSummary } from "../../shared/cli/summary.ts";
import { join, resolve } from "node:path";

/** Repository root and the CLI entry point. */
export const REPO = resolve(import.meta.dir, "../..");
export const CLI_ENTRY = join(REPO, "workers/topology.ts");

/** The CLI's `--json` summary line. */
export type CliSummary = RunSummary;

/** How the CLI is started. */
export interface CliLaunch {
  /**
   * As the README runs it, `bun run topology …`, in a process group of its own like a shell's foreground job,
   * so signalGroup reaches every process in it as a terminal's Ctrl-C does.
   */
  readmeCommand?: boolean;
}

/** A running CLI process. */
export class CliProcess {
  readonly proc: ReturnType<typeof Bun.spawn>;
  readonly startedAt = Date.now();
  stdout = "";
  stderr = "";
  /** Resolves with the exit code (128 + n for a signal) once the process ended and both streams are drained. */
  readonly exited: Promise<number>;

  constructor(
    private readonly args: string[],
    /** Set over this process's environment (undefined removes a variable). */
    env: Record<string, string | undefined> = {},
    private readonly logFile: string | null = null,
    launch: CliLaunch = {},
  ) {
    if (logFile) writeFileSync(logFile, "");
    const cmd = launch.readmeCommand ? [process.execPath, "run", "topology", ...args] : [process.execPath, CLI_ENTRY, ...args];
    this.proc = Bun.spawn(cmd, {
      cwd: REPO,
      env: { ...process.env, ...env },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      detached: !!launch.readmeCommand,
    });
    const out = this.collect(this.proc.stdout as ReadableStream<Uint8Array>, (s) => (this.stdout += s));
    const err = this.collect(this.proc.stderr as ReadableStream<Uint8Array>, (s) => {
      this.stderr += s;
      if (this.logFile) appendFileSync(this.logFile, s);
    });
    this.exited = Promise.all([this.proc.exited, out, err]).then(([code]) => code);
  }

  /** The OS process id. */
  get pid(): number {
    return this.proc.pid;
  }

  /** True while the process has not exited. */
  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Waits until stderr matches `re`; fails after `timeoutMs` or when the process exits first. */
  async waitForStderr(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.stderr.match(re);
      if (m) return m;
      if (!this.running) throw new Error(`the CLI exited (${this.proc.exitCode ?? this.proc.signalCode}) before printing ${re}:\n${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re} on the CLI's stderr:\n${this.tail()}`);
      await Bun.sleep(50);
    }
  }

  /** Sends a signal if the process is still running. */
  signal(sig: NodeJS.Signals): void {
    if (this.running) this.proc.kill(sig);
  }

  /** Sends a signal to the process's whole group (started with `readmeCommand`) while it runs. */
  signalGroup(sig: NodeJS.Signals): void {
    if (this.running) process.kill(-this.proc.pid, sig);
  }

  /** Pids of every worker process the supervisor logged as spawned (its "worker spawned" lines). */
  workerPids(): number[] {
    return [...this.stderr.matchAll(/"worker":\d+,"pid":(\d+),"msg":"worker spawned"/g)].map((m) => Number(m[1]));
  }

  /**
   * SIGKILLs the supervisor and every worker it spawned that is still running. Workers outlive a
   * SIGKILLed supervisor as orphans, so they are killed too, but only a process whose environment names
   * this run's topology file (TOPOFLEET_WORKER carries it): a recycled pid is never someone else's victim.
   */
  killAll(): void {
    const marker = this.args[0];
    const victims = this.workerPids().filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, "latin1").includes(marker);
      } catch {
        return false; // gone already (or not Linux)
      }
    });
    this.signal("SIGKILL");
    for (const pid of victims) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Exited meanwhile.
      }
    }
  }

  /** The last `--json` summary line of stdout, or null when there is none. */
  summary(): CliSummary | null {
    const line = this.stdout.trim().split("\n").at(-1) ?? "";
    try {
      const v = JSON.parse(line) as CliSummary;
      return typeof v.events === "number" ? v : null;
    } catch {
      return null;
    }
  }

  /** The last `lines` lines of stderr (for failure messages). */
  tail(lines = 40): string {
    return this.stderr.trim().split("\n").slice(-lines).join("\n");
  }

  private async collect(stream: ReadableStream<Uint8Array>, add: (s: string) => void): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of stream) add(decoder.decode(chunk, { stream: true }));
  }
}

/** Runs the CLI to completion (SIGKILLed after `timeoutMs`, by default the per-test timeout of `bun run test`). */
export async function runCliToEnd(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = new CliProcess(args, env);
  const timer = setTimeout(() => p.killAll(), timeoutMs);
  try {
    const code = await p.exited;
    return { code, stdout: p.stdout, stderr: p.stderr };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs a dev script that prints its figures as a last JSON line (the benches' --json) to its end: exit code,
 * that line parsed (null when it is not JSON) and stderr.
 */
export function runJsonScript(
  script: string,
  args: string[],
  opts: { timeoutMs?: number; env?: Record<string, string | undefined> } = {},
): { code: number | null; json: Record<string, unknown> | null; stderr: string } {
  const p = Bun.spawnSync([process.execPath, script, ...args], { stdout: "pipe", stderr: "pipe", timeout: opts.timeoutMs ?? 180_000, env: opts.env ?? process.env });
  const last = p.stdout.toString().trim().split("\n").at(-1) ?? "";
  let json: Record<string, unknown> | null = null;
  try {
    json = JSON.parse(last);
  } catch {
    json = null;
  }
  return { code: p.exitCode, json, stderr: p.stderr.toString() };
}
