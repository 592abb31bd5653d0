/**
 * The supervisor: keeps `replicas` worker processes running, restarts crashed ones with backoff, gives up
 * on a crash loop, scales on consumer lag, drains the fleet on stop, and aggregates progress and metrics
 * for the HTTP endpoints, the live line and the summary.
 *
 * Workers are numbered slots 0..n-1. A slot keeps its id across restarts (the id is in every worker log
 * line and in the `worker` label of gauges). Scale-down drains the highest-numbered slot, so ids stay dense.
 */
import { hostname } from "node:os";
import type { Logger } from "pino";
import { RuntimeError } from "../../errors/index.ts";
import { rdkafkaInfo } from "../../kafka/index.ts";
import type { ResolvedTopology } from "../../topology/types.ts";
import { EXIT_CONFIG, type WorkerLaunch, type WorkerToSupervisor } from "../ipc.ts";
import type { ProbeReport } from "../http/server.ts";
import { DEFAULT_AUTOSCALE_TIMING, decideScale, initialAutoscaleState, replicaBounds, type AutoscaleState, type AutoscaleTiming } from "./autoscaler.ts";
import { FleetMetrics } from "./fleet-metrics.ts";
import { FleetProgress, type FleetTotals } from "./fleet-progress.ts";
import { DEFAULT_RESTART, RestartPolicy, type RestartOptions } from "./restart-policy.ts";
import { DEFAULT_WORKER_ENTRY, WorkerProcess, type WorkerExit } from "./worker-process.ts";

/** Everything the supervisor needs; tests override timings and the worker entry. */
export interface SupervisorOptions {
  topology: ResolvedTopology;
  dataDir: string;
  logger: Logger;
  /** Stop the fleet cleanly once this many source events are fully processed. */
  maxEvents?: number | null;
  /** Bootstrap servers of the supervisor-hosted mock cluster. */
  brokersOverride?: string | null;
  /** URL of the supervisor-hosted embedded PostgreSQL. */
  databaseUrlOverride?: string | null;
  /** Partition count of the source topics, when known: caps autoscaling. */
  partitions?: number | null;
  workerEntry?: string;
  /** Environment for the workers (default: this process's). */
  workerEnv?: Record<string, string | undefined>;
  statusIntervalMs?: number;
  restart?: Partial<RestartOptions>;
  autoscale?: Partial<AutoscaleTiming> & { intervalMs?: number };
  /** Supervisor-side deadline (ms) for a drain; default topology.shutdown.deadlineMs. */
  shutdownDeadlineMs?: number;
  /** Called once when a stop begins (the CLI stops the demo generator there). */
  onStop?: (reason: string) => void;
}

/** How the fleet ended. */
export interface FleetOutcome {
  exitCode: number;
  reason: string;
  /** Worker ids that had to be SIGKILLed at the shutdown deadline. */
  killed: number[];
  error?: RuntimeError;
}

interface Slot {
  id: number;
  proc: WorkerProcess | null;
  policy: RestartPolicy;
  restartTimer: ReturnType<typeof setTimeout> | null;
  restartAt: number | null;
  /** Reported `drained` during a fleet stop: committed, waiting for `leave`. */
  drained?: boolean;
  /** Being drained by a scale-down: its exit is not a crash and it is not restarted. */
  retiring: boolean;
  ready: boolean;
  detail: string | undefined;
  lastError: Record<string, unknown> | null;
  /** Exited non-zero (or by signal) while the fleet was draining. */
  failedDrain: boolean;
}

// Stage health details may quote a connection string; /readyz must never show one.
const redactUrls = (s: string): string => s.replace(/[a-z][a-z0-9+.-]*:\/\/\S+/gi, "[url]");

/**
 * A worker's share of the drain deadline: a little less (DRAIN_REPORT_SHARE of it, at most
 * DRAIN_REPORT_MAX_MS), so it can report `stopped` over IPC before the SIGKILL; never under
 * MIN_WORKER_DRAIN_MS, which still lets it commit what is done.
 */
const DRAIN_REPORT_SHARE = 0.1;
const DRAIN_REPORT_MAX_MS = 1_000;
const MIN_WORKER_DRAIN_MS = 100;
const workerBudget = (deadlineMs: number): number =>
  Math.max(MIN_WORKER_DRAIN_MS, deadlineMs - Math.min(DRAIN_REPORT_MAX_MS, Math.floor(deadlineMs * DRAIN_REPORT_SHARE)));
/** How often workers report status: fleet totals, /readyz and the autoscaler's lag input are this fresh. */
const STATUS_INTERVAL_MS = 1_000;
/** How often the autoscaler looks at the lag; its own stability windows (autoscaler.ts) smooth the decisions. */
const AUTOSCALE_INTERVAL_MS = 5_000;

/** Supervises one fleet of worker processes. */
export class Supervisor {
  readonly metrics = new FleetMetrics();
  readonly progress = new FleetProgress();
  /** Resolves once every worker has exited after a stop, a crash loop or --max-events. */
  readonly done: Promise<FleetOutcome>;

  private readonly slots = new Map<number, Slot>();
  private readonly log: Logger;
  private readonly restartOpts: RestartOptions;
  private readonly timing: AutoscaleTiming;
  private readonly statusIntervalMs: number;
  private scaleState: AutoscaleState;
  private scaleTimer: ReturnType<typeof setInterval> | null = null;
  private stopping: { reason: string; exitCode: number; error?: RuntimeError } | null = null;
  private leaveSent = false;
  private crashLoop: string | null = null;
  private killTimer: ReturnType<typeof setTimeout> | null = null;
  private killed: number[] = [];
  private resolveDone!: (o: FleetOutcome) => void;
  private finished = false;

  constructor(private readonly opts: SupervisorOptions) {
    this.log = opts.logger;
    this.restartOpts = { ...DEFAULT_RESTART, ...opts.restart };
    this.timing = { ...DEFAULT_AUTOSCALE_TIMING, ...opts.autoscale };
    this.statusIntervalMs = opts.statusIntervalMs ?? STATUS_INTERVAL_MS;
    const start = replicaBounds(opts.topology.concurrency.replicas, opts.partitions).min;
    this.scaleState = initialAutoscaleState(start);
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  /** Spawns the initial `replicas.min` workers and starts the autoscaler when min < max. */
  start(): void {
    const { replicas } = this.opts.topology.concurrency;
    for (let id = 0; id < this.scaleState.current; id++) this.spawn(this.newSlot(id));
    this.metrics.setDesiredReplicas(this.scaleState.current);
    const b = replicaBounds(replicas, this.opts.partitions);
    if (b.capped) this.log.warn({ max: replicas.max, partitions: this.opts.partitions }, "replicas capped at the partition count (extra consumer-group members would sit idle)");
    if (b.min < b.max) {
      this.scaleTimer = setInterval(() => this.autoscale(), this.opts.autoscale?.intervalMs ?? AUTOSCALE_INTERVAL_MS);
    }
    const lib = rdkafkaInfo();
    this.log.info({ replicas: this.scaleState.current, min: b.min, max: b.max, librdkafka: { version: lib.version, path: lib.path, chosenBy: lib.source } }, "fleet started");
  }

  /** Fleet-wide progress (committed events, outcomes, lag). */
  totals(): FleetTotals {
    return this.progress.totals();
  }

  /** Pids of the live worker processes by worker id (tests kill them to simulate crashes). */
  workerPids(): Map<number, number> {
    const out = new Map<number, number>();
    for (const s of this.slots.values()) if (s.proc?.alive) out.set(s.id, s.proc.pid);
    return out;
  }

  /**
   * Drains the fleet: every worker gets `stop` (stop consuming, finish in-flight batches, commit, exit).
   * Stragglers are SIGKILLed at the deadline and make the outcome non-zero. Idempotent.
   */
  stop(reason: string, exitCode = 0, error?: RuntimeError): Promise<FleetOutcome> {
    if (this.stopping) return this.done;
    this.stopping = { reason, exitCode, error };
    if (this.scaleTimer) clearInterval(this.scaleTimer);
    this.opts.onStop?.(reason);
    const deadline = this.deadlineMs;
    this.log.info({ reason, deadlineMs: deadline }, "stopping the fleet");
    for (const slot of this.slots.values()) {
      this.cancelRestart(slot);
      slot.proc?.send({ type: "stop", reason, deadlineMs: workerBudget(deadline), coordinated: true });
    }
    this.killTimer = setTimeout(() => this.killStragglers("deadline"), deadline);
    this.maybeFinish();
    return this.done;
  }

  /** Second Ctrl-C: SIGKILL every worker now. */
  forceStop(): void {
    if (!this.stopping) this.stopping = { reason: "forced", exitCode: 130 };
    this.killStragglers("forced");
  }

  /** /healthz: alive while no crash loop was declared and every slot has a running process. */
  health(): ProbeReport {
    const alive = [...this.slots.values()].filter((s) => s.proc?.alive).length;
    const base = { workers: alive, desired: this.scaleState.current };
    if (this.crashLoop) return { ok: false, reason: this.crashLoop, ...base };
    const down = [...this.slots.values()].find((s) => !s.proc?.alive && !this.stopping);
    if (down) {
      const inMs = down.restartAt === null ? null : Math.max(0, down.restartAt - Date.now());
      return { ok: false, reason: `worker ${down.id} is down${inMs === null ? "" : ` (restart in ${inMs} ms)`}`, ...base };
    }
    return { ok: true, ...base };
  }

  /** /readyz: ready only when every desired worker runs and reported ready (assignment + healthy sinks). */
  ready(): ProbeReport {
    const workers = [...this.slots.values()]
      .filter((s) => !s.retiring)
      .sort((a, b) => a.id - b.id)
      .map((s) => ({ id: s.id, running: !!s.proc?.alive, ready: !!s.proc?.alive && s.ready, ...(s.detail ? { detail: redactUrls(s.detail) } : {}) }));
    if (this.stopping) return { ok: false, reason: `shutting down (${this.stopping.reason})`, workers };
    if (this.crashLoop) return { ok: false, reason: this.crashLoop, workers };
    if (workers.length < this.scaleState.current) return { ok: false, reason: "workers are starting", workers };
    const notReady = workers.find((w) => !w.ready);
    if (notReady) return { ok: false, reason: `worker ${notReady.id} is ${notReady.running ? "not ready" : "down"}`, workers };
    return { ok: true, workers };
  }

  /**
   * The workers' environment. TOPOFLEET_INSTANCE names this fleet in the workers' static group identity
   * (kafka-config.ts groupInstanceId): unless the platform set it (the systemd units use host and instance),
   * it is the host name and this supervisor's pid, so two fleets on one host never fence each other, every
   * restart of a worker by this supervisor rejoins as the same member, and in a container (pid 1) a
   * restarted container does too.
   */
  private get workerEnv(): Record<string, string | undefined> {
    const env = this.opts.workerEnv ?? process.env;
    return env.TOPOFLEET_INSTANCE ? env : { ...env, TOPOFLEET_INSTANCE: `${hostname()}-${process.pid}` };
  }

  private get deadlineMs(): number {
    return this.opts.shutdownDeadlineMs ?? this.opts.topology.shutdown.deadlineMs;
  }

  private newSlot(id: number): Slot {
    const slot: Slot = {
      id,
      proc: null,
      policy: new RestartPolicy(this.restartOpts),
      restartTimer: null,
      restartAt: null,
      retiring: false,
      ready: false,
      detail: undefined,
      lastError: null,
      failedDrain: false,
    };
    this.slots.set(id, slot);
    return slot;
  }

  private spawn(slot: Slot): void {
    const launch: WorkerLaunch = {
      workerId: slot.id,
      topologyFile: this.opts.topology.file,
      brokersOverride: this.opts.brokersOverride ?? null,
      databaseUrlOverride: this.opts.databaseUrlOverride ?? null,
      dataDir: this.opts.dataDir,
      statusIntervalMs: this.statusIntervalMs,
    };
    slot.ready = false;
    slot.detail = undefined;
    let proc: WorkerProcess;
    try {
      proc = new WorkerProcess(launch, {
        entry: this.opts.workerEntry ?? DEFAULT_WORKER_ENTRY,
        env: this.workerEnv,
        logger: this.log,
        onMessage: (msg) => this.onMessage(slot, proc, msg),
        onExit: (exit) => this.onExit(slot, proc, exit),
      });
    } catch (cause) {
      const error = new RuntimeError("RUNTIME_WORKER_LOST", `cannot spawn worker ${slot.id}: ${(cause as Error).message}`, { retriable: false, cause });
      this.log.fatal({ err: error.toJSON() }, "cannot spawn a worker");
      void this.stop("spawn failed", 1, error);
      return;
    }
    slot.proc = proc;
    this.updateWorkersGauge();
    this.log.info({ worker: slot.id, pid: proc.pid }, "worker spawned");
  }

  private onMessage(slot: Slot, proc: WorkerProcess, msg: WorkerToSupervisor): void {
    // A message from a previous incarnation of this slot (racing its exit) must not overwrite the new one.
    if (slot.proc !== proc) return;
    switch (msg.type) {
      case "started":
        this.log.debug({ worker: slot.id, pid: msg.pid }, "worker started");
        break;
      case "status":
        slot.ready = msg.ready;
        slot.detail = msg.detail;
        this.progress.update(slot.id, msg.progress);
        this.metrics.update(slot.id, msg.metrics);
        this.checkMaxEvents();
        break;
      case "progress":
        this.progress.update(slot.id, msg.progress);
        this.checkMaxEvents();
        break;
      case "stopped":
        slot.ready = false;
        this.progress.update(slot.id, msg.progress);
        this.metrics.update(slot.id, msg.metrics);
        this.log.info({ worker: slot.id, progress: msg.progress }, "worker reported its final progress");
        break;
      case "drained":
        slot.drained = true;
        this.maybeLeave();
        break;
      case "fatal":
        slot.lastError = msg.error;
        this.log.error({ worker: slot.id, err: msg.error }, "worker reported a fatal error");
        break;
    }
  }

  private onExit(slot: Slot, proc: WorkerProcess, exit: WorkerExit): void {
    if (slot.proc !== proc) return;
    this.progress.retire(slot.id);
    this.metrics.retire(slot.id);
    slot.ready = false;
    slot.proc = null;
    this.updateWorkersGauge();
    const clean = exit.code === 0 && exit.signal === null;
    const uptimeMs = Date.now() - proc.startedAt;

    if (this.stopping || slot.retiring) {
      if (this.stopping && !clean && !this.killed.includes(slot.id)) slot.failedDrain = true;
      this.log.info({ worker: slot.id, code: exit.code, signal: exit.signal, retiring: slot.retiring }, "worker exited");
      if (slot.retiring) this.slots.delete(slot.id);
      this.maybeLeave();
      this.maybeFinish();
      return;
    }

    const lastError = slot.lastError ?? { message: `exited unexpectedly (code ${exit.code}, signal ${exit.signal})` };
    slot.lastError = null;
    if (exit.code === EXIT_CONFIG && exit.signal === null) {
      // The worker found the configuration unusable (a user module that cannot load, ...): every restart
      // would fail the same way, so stop with the CLI's configuration exit code instead of crash-looping.
      const error = new RuntimeError("RUNTIME_STAGE_FAILED", `worker ${slot.id} stopped on a configuration error: ${[lastError.code, lastError.message].filter(Boolean).join(": ")}`, {
        retriable: false,
        context: { worker: slot.id, lastError },
      });
      this.log.fatal({ worker: slot.id, err: error.toJSON(), lastError }, "configuration error in a worker: not restarting, stopping the fleet");
      void this.stop("configuration error", EXIT_CONFIG, error);
      return;
    }
    const verdict = slot.policy.onCrash(Date.now(), uptimeMs);
    // FENCED_INSTANCE_ID: the broker gave this slot's static identity to a newer join. After a coordinator
    // outage longer than the session timeout that join is the worker's own (librdkafka rejoins under a new
    // member id and then treats its old one being fenced as fatal), and a restart is the cure. A second live
    // process with the same identity (two fleets with one TOPOFLEET_INSTANCE) fences it again at once: that
    // ends as a crash loop, reported as RUNTIME_WORKER_FENCED.
    const fenced = lastError.code === "FENCED_INSTANCE_ID";
    if (verdict.action === "give-up") {
      this.crashLoop = fenced
        ? `worker ${slot.id} was fenced ${verdict.crashesInWindow} times within ${this.restartOpts.windowMs} ms: another process uses its group.instance.id; give every fleet its own TOPOFLEET_INSTANCE`
        : `crash loop: worker ${slot.id} crashed ${verdict.crashesInWindow} times within ${this.restartOpts.windowMs} ms`;
      const error = new RuntimeError(fenced ? "RUNTIME_WORKER_FENCED" : "RUNTIME_CRASH_LOOP", this.crashLoop, {
        retriable: false,
        context: { worker: slot.id, crashes: verdict.crashesInWindow, lastError },
      });
      this.log.fatal({ worker: slot.id, err: error.toJSON(), lastError }, "crash loop: giving up, stopping the fleet");
      void this.stop("crash loop", 1, error);
      return;
    }
    this.log.error(
      { worker: slot.id, code: exit.code, signal: exit.signal, uptimeMs, restartInMs: verdict.delayMs, crashes: verdict.crashesInWindow, lastError },
      "worker crashed; restarting after backoff",
    );
    slot.restartAt = Date.now() + verdict.delayMs;
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = null;
      slot.restartAt = null;
      if (this.stopping || slot.retiring) return;
      this.metrics.countRestart(slot.id);
      this.spawn(slot);
    }, verdict.delayMs);
  }

  private cancelRestart(slot: Slot): void {
    if (slot.restartTimer) clearTimeout(slot.restartTimer);
    slot.restartTimer = null;
    slot.restartAt = null;
  }

  private checkMaxEvents(): void {
    const max = this.opts.maxEvents;
    if (!max || this.stopping) return;
    const { events } = this.progress.totals();
    if (events >= max) void this.stop(`max-events reached (${events} >= ${max})`);
  }

  private autoscale(): void {
    if (this.stopping || this.crashLoop) return;
    const { replicas } = this.opts.topology.concurrency;
    const lag = this.progress.totals().lag;
    const decision = decideScale(this.scaleState, { lag, now: Date.now() }, replicas, this.opts.partitions, this.timing);
    const from = this.scaleState.current;
    this.scaleState = decision.state;
    if (decision.target === from) return;
    this.metrics.setDesiredReplicas(decision.target);
    this.log.info({ from, to: decision.target, lag, reason: decision.reason }, "scaling the fleet");
    this.scaleTo(decision.target);
  }

  /**
   * Phase 2 of a fleet stop: once every running worker has committed its final offsets (`drained`), let
   * them all leave the group. A worker that exited counts as done; a scale-down retiree is not waited for.
   */
  private maybeLeave(): void {
    if (!this.stopping || this.leaveSent) return;
    const running = [...this.slots.values()].filter((s) => s.proc?.alive && !s.retiring);
    if (running.some((s) => !s.drained)) return;
    this.leaveSent = true;
    this.log.debug({ workers: running.length }, "every worker drained: leaving the group");
    for (const s of running) s.proc?.send({ type: "leave" });
  }

  /** Adds slots (lowest free ids) or drains the highest-numbered ones until `target` are active. */
  private scaleTo(target: number): void {
    const active = () => [...this.slots.values()].filter((s) => !s.retiring).sort((a, b) => a.id - b.id);
    while (active().length < target) {
      let id = 0;
      while (this.slots.has(id)) id++;
      this.spawn(this.newSlot(id));
    }
    while (active().length > target) {
      const slot = active().at(-1)!;
      slot.retiring = true;
      this.cancelRestart(slot);
      if (!slot.proc?.alive) this.slots.delete(slot.id);
      else this.drain(slot, slot.proc);
    }
  }

  /** Scale-down of one slot: graceful stop, SIGKILL if it outlives the shutdown deadline. */
  private drain(slot: Slot, proc: WorkerProcess): void {
    const deadline = this.deadlineMs;
    proc.send({ type: "stop", reason: "scale-down", deadlineMs: workerBudget(deadline) });
    setTimeout(() => {
      if (!proc.alive) return;
      this.log.error({ worker: slot.id, pid: proc.pid }, "killing a scaled-down worker that did not stop in time");
      proc.kill("SIGKILL");
    }, deadline).unref();
  }

  private killStragglers(why: "deadline" | "forced"): void {
    for (const slot of this.slots.values()) {
      if (!slot.proc?.alive) continue;
      this.killed.push(slot.id);
      this.log.error({ worker: slot.id, pid: slot.proc.pid, why }, "killing a worker that did not stop in time");
      slot.proc.kill("SIGKILL");
    }
  }

  private updateWorkersGauge(): void {
    const alive = [...this.slots.values()].filter((s) => s.proc?.alive).length;
    this.metrics.setWorkers(alive);
  }

  private maybeFinish(): void {
    if (this.finished || !this.stopping) return;
    if ([...this.slots.values()].some((s) => s.proc?.alive)) return;
    this.finished = true;
    if (this.killTimer) clearTimeout(this.killTimer);
    const failed = [...this.slots.values()].filter((s) => s.failedDrain).map((s) => s.id);
    let { exitCode, reason, error } = this.stopping;
    if (exitCode === 0 && this.killed.length) {
      exitCode = 1;
      error = new RuntimeError("RUNTIME_SHUTDOWN_TIMEOUT", `workers ${this.killed.join(", ")} did not stop within the shutdown deadline and were killed`, {
        retriable: false,
        context: { killed: this.killed },
      });
    } else if (exitCode === 0 && failed.length) {
      exitCode = 1;
      error = new RuntimeError("RUNTIME_WORKER_LOST", `workers ${failed.join(", ")} exited with an error while draining`, {
        retriable: false,
        context: { workers: failed },
      });
    }
    this.log.info({ reason, exitCode, killed: this.killed }, "fleet stopped");
    this.resolveDone({ exitCode, reason, killed: [...this.killed], error });
  }
}
