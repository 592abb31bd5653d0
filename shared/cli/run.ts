/**
 * The default mode: host local services (mock cluster, generator, embedded PostgreSQL) when the topology
 * asks for them, run the supervised fleet with its HTTP endpoints, print the live line, and on the end
 * (signal, --max-events, crash loop) drain, print the summary and return the exit code.
 *
 * Signals: the first SIGINT/SIGTERM drains (workers finish in-flight batches and commit); a second one, at
 * least SAME_STOP_REQUEST_MS later, SIGKILLs every worker and exits 130 at once, after printing what is known.
 */
import type { ResolvedTopology } from "../topology/types.ts";
import { JUMP_CODES } from "../runtime/engine/offset-jumps.ts";
import { startHttpServer, type HttpServer } from "../runtime/http/server.ts";
import { startLocalServices, type LocalServices } from "../runtime/supervisor/local-services.ts";
import { sourcePartitions } from "../runtime/supervisor/source-partitions.ts";
import { Supervisor } from "../runtime/supervisor/supervisor.ts";
import type { CliArgs } from "./args.ts";
import { cliLogger } from "./commands.ts";
import { resolveDataDir, resolveHttpBinding } from "./environment.ts";
import type { CliIO } from "./io.ts";
import { LiveLine, formatSummary, summarize } from "./summary.ts";

/**
 * Signals this close to the first are the same stop request: a terminal's Ctrl-C reaches the whole process
 * group, and `bun run`, npm or a container's init forward it to us again a millisecond or two later. Read as a
 * second Ctrl-C, that copy would kill the workers instead of draining them. A deliberate second Ctrl-C comes later.
 */
export const SAME_STOP_REQUEST_MS = 250;

/** Exit code of a run ended by a second Ctrl-C (128 + SIGINT, the shell convention). */
export const FORCED_EXIT_CODE = 130;

/** Runs the fleet until it stops; returns the process exit code. */
export async function runCommand(t: ResolvedTopology, args: CliArgs, io: CliIO): Promise<number> {
  const logger = cliLogger(t, io, "supervisor");
  // Not created here: whatever keeps state there (embedded PostgreSQL, a custom stage) creates it.
  const dataDir = resolveDataDir(args.dataDir, io.env, t.name);
  const binding = resolveHttpBinding(t.http, io.env);

  let services: LocalServices | null = null;
  let server: HttpServer | null = null;
  const cleanups: Array<() => void> = [];
  const generatorStop = new AbortController();
  try {
    services = await startLocalServices(t, { dataDir, logger });
    const partitions = await sourcePartitions(t, logger);
    const supervisor = new Supervisor({
      topology: t,
      dataDir,
      logger,
      maxEvents: args.maxEvents,
      brokersOverride: services.brokersOverride,
      databaseUrlOverride: services.databaseUrlOverride,
      partitions,
      workerEnv: io.env,
      onStop: () => generatorStop.abort(),
    });
    if (binding) {
      server = startHttpServer({
        ...binding,
        probes: { metrics: () => supervisor.metrics.render(), health: () => supervisor.health(), ready: () => supervisor.ready() },
      });
      logger.info({ host: server.host, port: server.port }, `http listening on ${server.host}:${server.port} (/metrics, /healthz, /readyz)`);
    } else logger.info("http disabled (http.port 0)");

    const budget = t.source.kind === "mock" ? t.source.generator?.events ?? null : null;
    if (args.maxEvents !== null && budget !== null && budget < args.maxEvents) {
      logger.warn({ maxEvents: args.maxEvents, generatorEvents: budget }, "--max-events is above the generator's event budget: the run will not stop by itself");
    }
    const startedAt = performance.now();
    supervisor.start();
    const generator = services.startGenerator(generatorStop.signal, () => supervisor.totals().events);
    generator?.catch((err) => {
      logger.error({ err: (err as Error).message }, "the generator failed; stopping the fleet");
      void supervisor.stop("generator failed", 1);
    });

    const live = args.json ? null : new LiveLine(io.stdout, io.isTTY);
    if (live) {
      const timer = setInterval(() => live.update(supervisor.totals(), services?.generatorStatus() ?? null), 1000);
      cleanups.push(() => clearInterval(timer), () => live.finish());
    }
    const printSummary = (reason: string) => {
      for (const c of cleanups.splice(0)) c();
      const s = summarize(supervisor.totals(), performance.now() - startedAt);
      io.stdout.write(args.json ? `${JSON.stringify(s)}\n` : `${formatSummary(t.name, reason, s)}\n`);
      return s;
    };

    let firstSignalAt: number | null = null;
    const onSignal = (name: string) => () => {
      const now = performance.now();
      if (firstSignalAt === null) {
        firstSignalAt = now;
        logger.info({ signal: name }, "draining the fleet (signal again to force)");
        void supervisor.stop(`signal ${name}`);
        return;
      }
      if (now - firstSignalAt < SAME_STOP_REQUEST_MS) return;
      logger.warn({ signal: name }, "second signal: killing every worker now");
      supervisor.forceStop();
      printSummary("forced");
      io.exit(FORCED_EXIT_CODE);
    };
    cleanups.push(io.onSignal("SIGINT", onSignal("SIGINT")), io.onSignal("SIGTERM", onSignal("SIGTERM")));

    const outcome = await supervisor.done;
    generatorStop.abort();
    await generator?.catch(() => undefined);
    if (outcome.error) logger.error({ err: outcome.error.toJSON() }, outcome.error.message);
    const summary = printSummary(outcome.reason);
    if (summary.deleted_before_read > 0) {
      // The run "succeeded" as far as the fleet goes, but events never reached it: that is a failed run.
      logger.error(
        { code: JUMP_CODES.deleted_before_read, deletedBeforeRead: summary.deleted_before_read },
        `${summary.deleted_before_read} events were deleted by the broker before they were read; exiting 1`,
      );
      return Math.max(outcome.exitCode, 1);
    }
    return outcome.exitCode;
  } finally {
    for (const c of cleanups) c();
    generatorStop.abort();
    await server?.stop();
    await services?.stop();
  }
}
