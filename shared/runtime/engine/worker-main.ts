/**
 * The worker process: one consumer-group member running the pipeline engine.
 *
 * Under the supervisor it gets its WorkerLaunch in TOPOFLEET_WORKER and speaks shared/runtime/ipc.ts over
 * the IPC channel: `started` once the engine runs, `status` every `statusIntervalMs`, `stopped` with the
 * final progress, `fatal` before exiting 1 (2 for a configuration error). It also obeys SIGTERM/SIGINT itself, so a terminal's Ctrl-C
 * (sent to the whole process group) and a bare `bun workers/worker.ts topology.yaml` (no supervisor, no IPC:
 * progress goes to the log) stop it cleanly too.
 */
import type { Logger } from "pino";
import { resolve } from "node:path";
import { ConfigError } from "../../errors/index.ts";
import { createStages } from "../../stages/index.ts";
import { createLogger } from "../../telemetry/logger.ts";
import { setKafkaLogger } from "../../kafka/client/log-sink.ts";
import { Metrics } from "../../telemetry/metrics.ts";
import { loadTopology } from "../../topology/index.ts";
import { EXIT_CONFIG, type SupervisorToWorker, type WorkerLaunch, type WorkerToSupervisor } from "../ipc.ts";
import { Engine } from "./engine.ts";
import { faultPointsFromEnv } from "./fault-points.ts";
import { STATUS_INTERVAL_MS } from "./budgets.ts";
import { errorJson } from "./error-json.ts";
import { StartCancelled } from "./stage-start.ts";
import { applyLaunchOverrides, sourceBrokers } from "./kafka-config.ts";


/** Reads the launch description: TOPOFLEET_WORKER (supervised), else `worker.ts <topology file>` (standalone). */
export function readLaunch(env: Record<string, string | undefined>, argv: readonly string[]): WorkerLaunch {
  const raw = env.TOPOFLEET_WORKER;
  if (raw) {
    let v: Partial<WorkerLaunch>;
    try {
      v = JSON.parse(raw);
    } catch (err) {
      throw new ConfigError("CONFIG_INVALID", "TOPOFLEET_WORKER is not valid JSON", [], err);
    }
    if (typeof v.workerId !== "number" || typeof v.topologyFile !== "string") {
      throw new ConfigError("CONFIG_INVALID", "TOPOFLEET_WORKER must carry a numeric workerId and a topologyFile");
    }
    return {
      workerId: v.workerId,
      topologyFile: v.topologyFile,
      brokersOverride: v.brokersOverride ?? null,
      databaseUrlOverride: v.databaseUrlOverride ?? null,
      dataDir: v.dataDir ?? resolve(".data"),
      statusIntervalMs: v.statusIntervalMs ?? STATUS_INTERVAL_MS,
    };
  }
  const file = argv[2];
  if (!file) {
    throw new ConfigError("CONFIG_INVALID", "usage: bun workers/worker.ts <topology.yaml> (or set TOPOFLEET_WORKER, as the supervisor does)");
  }
  return {
    workerId: Number(env.TOPOFLEET_WORKER_ID ?? 0),
    topologyFile: resolve(file),
    brokersOverride: null,
    databaseUrlOverride: null,
    dataDir: resolve(env.TOPOFLEET_DATA_DIR ?? ".data"),
    statusIntervalMs: STATUS_INTERVAL_MS,
  };
}

/** The IPC channel to the supervisor, or null when running standalone. */
function channel(): ((msg: WorkerToSupervisor) => void) | null {
  if (typeof process.send !== "function") return null;
  return (msg) => {
    try {
      process.send!(msg);
    } catch {
      // The supervisor is gone (channel closed); the process is on its way out anyway.
    }
  };
}

/** Flushes pino's async destination so the last lines are not lost at exit. */
function flushLogs(logger: Logger): Promise<void> {
  return new Promise((done) => {
    try {
      logger.flush(() => done());
    } catch {
      done();
    }
  });
}

/** A stop asked for by a signal or by the supervisor. */
interface StopRequest {
  reason: string;
  deadlineMs?: number;
  /** Part of a fleet-wide drain: report `drained`, then wait for `leave` before leaving the group. */
  coordinated?: boolean;
}

/** Runs the worker until it is stopped; resolves with the process exit code (0 clean, 1 fatal, 2 configuration error: EXIT_CONFIG). */
export async function runWorker(env: Record<string, string | undefined> = process.env, argv: readonly string[] = process.argv): Promise<number> {
  const send = channel();
  let launch: WorkerLaunch | null = null;
  let logger = createLogger({ level: env.TOPOFLEET_LOG_LEVEL ?? "info" });
  setKafkaLogger(logger);
  // The engine is published only once it runs: a stop that arrives earlier (while the topology loads or
  // the stages start) is remembered and applied right after start, never to a half-started engine.
  let engine: Engine | null = null;
  // The engine while it starts (its stages may be waiting for their dependencies: a stop cancels that).
  let starting: Engine | null = null;
  let stopRequest: StopRequest | null = null;
  let allowLeave: (() => void) | null = null;
  const leaveAllowed = new Promise<void>((resolve) => (allowLeave = resolve));
  const stopEngine = (e: Engine, req: StopRequest) => {
    const workerId = launch?.workerId ?? -1;
    const beforeLeave = req.coordinated && send
      ? async () => {
          send({ type: "drained", workerId });
          await leaveAllowed;
        }
      : undefined;
    void e.stop(req.deadlineMs, { beforeLeave });
  };
  const requestStop = (req: StopRequest) => {
    if (stopRequest) return;
    stopRequest = req;
    logger.info({ reason: req.reason, coordinated: !!req.coordinated }, "stop requested");
    if (engine) stopEngine(engine, req);
    else starting?.cancelStart();
  };
  const onSigterm = () => requestStop({ reason: "SIGTERM" });
  const onSigint = () => requestStop({ reason: "SIGINT" });
  const onMessage = (msg: SupervisorToWorker) => {
    if (msg?.type === "stop") requestStop({ reason: `supervisor: ${msg.reason}`, deadlineMs: msg.deadlineMs, coordinated: msg.coordinated });
    else if (msg?.type === "leave") allowLeave?.();
  };

  process.on("SIGTERM", onSigterm);
  process.on("SIGINT", onSigint);
  // The supervisor died (kill -9, OOM): nobody will send "stop" any more, and an orphan would keep its
  // partitions forever. Drain and leave the group on our own; the platform restarts the supervisor.
  const onDisconnect = () => {
    allowLeave?.(); // nobody is left to coordinate with
    requestStop({ reason: "supervisor disconnected" });
  };
  if (send) {
    process.on("message", onMessage);
    process.on("disconnect", onDisconnect);
  }

  let statusTimer: ReturnType<typeof setInterval> | null = null;
  try {
    launch = readLaunch(env, argv);
    const workerId = launch.workerId;
    logger = createLogger({ level: env.TOPOFLEET_LOG_LEVEL ?? "info", workerId });
    setKafkaLogger(logger);
    const topology = applyLaunchOverrides(await loadTopology(launch.topologyFile, { env }), launch);
    if (!env.TOPOFLEET_LOG_LEVEL) logger.level = topology.log.level;
    const metrics = new Metrics();
    let engineRef: Engine | null = null;
    starting = engineRef = new Engine({
      topology,
      workerId,
      brokers: sourceBrokers(topology, launch),
      stages: await createStages(topology),
      logger,
      metrics,
      dataDir: launch.dataDir,
      // The only place the fault-injection hook is read from the environment: the engine gets it as an option.
      faults: faultPointsFromEnv(env),
      // The supervisor hears of a partition's committed base before this process commits anything of it, so
      // a kill right after still leaves it an exact starting point (see partition-ledger.ts).
      hooks: {
        positionsRead: () => {
          if (engineRef) send?.({ type: "progress", workerId, progress: engineRef.progress() });
        },
      },
    });
    await starting.start();
    const running = (engine = starting);
    send?.({ type: "started", workerId, pid: process.pid });
    const report = async () => {
      const r = await running.readiness();
      const progress = running.progress();
      if (send) {
        send({ type: "status", workerId, assignment: running.assignment(), ready: r.ready, detail: r.detail, progress, metrics: metrics.snapshot() });
      } else {
        logger.info({ progress, ready: r.ready, detail: r.detail, partitions: running.assignment().length }, "progress");
      }
    };
    statusTimer = setInterval(() => void report().catch((err) => logger.warn({ err: errorJson(err) }, "status report failed")), launch.statusIntervalMs);
    void report();
    const early = stopRequest as StopRequest | null;
    if (early) stopEngine(running, early);
    const progress = await running.finished;
    clearInterval(statusTimer);
    send?.({ type: "stopped", workerId, progress, metrics: metrics.snapshot() });
    logger.info({ progress }, "worker stopped");
    await flushLogs(logger);
    return 0;
  } catch (err) {
    if (statusTimer) clearInterval(statusTimer);
    if (err instanceof StartCancelled) {
      // Stopped while a stage was still waiting for its dependencies: nothing was consumed, a clean exit.
      logger.info({ reason: (stopRequest as StopRequest | null)?.reason }, "worker stopped before it started");
      await flushLogs(logger);
      return 0;
    }
    logger.fatal({ err: errorJson(err, true) }, "worker failed");
    send?.({ type: "fatal", workerId: launch?.workerId ?? -1, error: errorJson(err, true) });
    // Idempotent: the engine already stopped itself after a pipeline failure, or never got to run.
    await starting?.stop().catch(() => undefined);
    await flushLogs(logger);
    return err instanceof ConfigError ? EXIT_CONFIG : 1;
  } finally {
    process.off("SIGTERM", onSigterm);
    process.off("SIGINT", onSigint);
    if (send) {
      process.off("message", onMessage);
      process.off("disconnect", onDisconnect);
    }
  }
}
