/**
 * One worker OS process: spawned with Bun.spawn and an IPC channel, speaking shared/runtime/ipc.ts.
 *
 * stderr is inherited: workers log pino JSON there themselves (with their worker id), so their logs reach
 * the supervisor's stderr without being parsed. stdout is piped and re-logged line by line, because the
 * supervisor's stdout carries only the live line and the summary (a worker or a user stage printing to
 * stdout must not corrupt a `--json` summary).
 */
import type { Logger } from "pino";
import { fileURLToPath } from "node:url";
import type { SupervisorToWorker, WorkerLaunch, WorkerToSupervisor } from "../ipc.ts";

/** The worker entry point shipped with topofleet. */
export const DEFAULT_WORKER_ENTRY = fileURLToPath(new URL("../../../workers/worker.ts", import.meta.url));

/** How a worker process ended. */
export interface WorkerExit {
  code: number | null;
  signal: string | null;
}

/** Spawn settings shared by every worker of a fleet. */
export interface WorkerSpawnOptions {
  entry: string;
  env: Record<string, string | undefined>;
  logger: Logger;
  onMessage(msg: WorkerToSupervisor): void;
  onExit(exit: WorkerExit): void;
}

/** A running (or exited) worker process. */
export class WorkerProcess {
  readonly pid: number;
  readonly startedAt = Date.now();
  private readonly proc: ReturnType<typeof Bun.spawn>;
  private ended = false;

  constructor(
    readonly launch: WorkerLaunch,
    opts: WorkerSpawnOptions,
  ) {
    this.proc = Bun.spawn([process.execPath, opts.entry], {
      env: { ...opts.env, TOPOFLEET_WORKER: JSON.stringify(launch) },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "inherit",
      ipc: (msg) => opts.onMessage(msg as WorkerToSupervisor),
    });
    this.pid = this.proc.pid;
    void relayStdout(this.proc.stdout as ReadableStream<Uint8Array>, opts.logger.child({ worker: launch.workerId }));
    void this.proc.exited.then((code) => {
      this.ended = true;
      const signal = this.proc.signalCode === null || this.proc.signalCode === undefined ? null : String(this.proc.signalCode);
      opts.onExit({ code: signal ? null : code, signal });
    });
  }

  /** True until the process has exited. */
  get alive(): boolean {
    return !this.ended;
  }

  /** Sends a message over IPC; false when the channel is already gone (the process is exiting). */
  send(msg: SupervisorToWorker): boolean {
    if (this.ended) return false;
    try {
      this.proc.send(msg);
      return true;
    } catch {
      // The channel closes a moment before `exited` resolves; the exit handler reports the outcome.
      return false;
    }
  }

  /** Sends a signal (SIGKILL for stragglers, tests use it to simulate crashes). */
  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (!this.ended) this.proc.kill(signal);
  }
}

/** Re-logs a worker's stdout lines through the supervisor logger (see the module comment for why). */
async function relayStdout(stream: ReadableStream<Uint8Array>, logger: Logger): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.trim()) logger.info({ stdout: line }, "worker stdout");
    }
  }
  if (pending.trim()) logger.info({ stdout: pending }, "worker stdout");
}
