/**
 * The one-shot CLI modes: --validate, --explain, --migrate, --emit. Each gets an already loaded topology
 * and returns an exit code; errors propagate to main.ts, which maps them to exit codes.
 */
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { ConfigError } from "../errors/index.ts";
import { setKafkaLogger } from "../kafka/client/log-sink.ts";
import { createLogger } from "../telemetry/logger.ts";
import { specOf } from "../stages/registry.ts";
import type { ResolvedTopology } from "../topology/types.ts";
import { sourcePartitions } from "../runtime/supervisor/source-partitions.ts";
import type { CliArgs } from "./args.ts";
import { resolveDataDir } from "./environment.ts";
import type { CliIO } from "./io.ts";

/**
 * The CLI's own logger (pino JSON on stderr, component "cli"); level from $TOPOFLEET_LOG_LEVEL or the
 * topology. librdkafka's lines in this process go to it too.
 */
export function cliLogger(t: ResolvedTopology, io: CliIO, component = "cli") {
  const logger = createLogger({ level: io.env.TOPOFLEET_LOG_LEVEL || t.log.level, component });
  setKafkaLogger(logger);
  return logger;
}

/**
 * --validate: the file loaded, so it is valid; then every user module (custom stages, enrich modules) is
 * imported in a probe thread under the start-up deadline, so a module that throws, exits, spins or exports
 * the wrong thing fails here (CONFIG_MODULE_LOAD naming the path), not in a crash-looping worker. Then OK
 * and the loader's warnings.
 */
export async function validateCommand(t: ResolvedTopology, io: CliIO): Promise<number> {
  const { probeModule, moduleStartTimeoutMs } = await import("../stages/module-probe.ts");
  const timeoutMs = moduleStartTimeoutMs(io.env);
  const probes = t.stages.flatMap((s) =>
    (specOf(s).userModules?.(s) ?? []).map((m) => probeModule(`${s.kind} stage "${s.name}"`, m.path, m.contract, timeoutMs)),
  );
  const failed = (await Promise.allSettled(probes)).filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => r.reason);
  if (failed.length === 1) throw failed[0];
  if (failed.length > 1) throw new ConfigError("CONFIG_MODULE_LOAD", failed.map((e) => (e instanceof Error ? e.message : String(e))).join("\n"));
  io.stdout.write(`OK ${t.file}: topology "${t.name}", ${t.stages.length} stage(s): ${t.stages.map((s) => s.name).join(" -> ")}\n`);
  for (const w of t.warnings) io.stdout.write(`warning: ${w}\n`);
  return 0;
}

/** --explain: the resolved topology with secrets redacted, and what bounds its throughput. */
export async function explainCommand(t: ResolvedTopology, io: CliIO): Promise<number> {
  const { explainTopology } = await import("../topology/index.ts");
  const partitions = await sourcePartitions(t, cliLogger(t, io));
  io.stdout.write(explainTopology(t, { partitions: partitions ?? undefined, cores: availableParallelism() }));
  return 0;
}

/** --migrate: runs every stage's migration, e.g. persist's table (url "embedded" migrates PGlite under the data dir). */
export async function migrateCommand(t: ResolvedTopology, args: CliArgs, io: CliIO): Promise<number> {
  const stages = t.stages.filter((s) => specOf(s).migrate);
  if (!stages.length) throw new ConfigError("CONFIG_USAGE", `--migrate: topology "${t.name}" has no persist stage`);
  const ctx = { logger: cliLogger(t, io), dataDir: resolveDataDir(args.dataDir, io.env, t.name) };
  for (const cfg of stages) io.stdout.write(`${await specOf(cfg).migrate!(cfg, ctx)}\n`);
  return 0;
}

/** --emit KIND --out DIR: writes deployment files via shared/deploy; lists them. */
export async function emitCommand(t: ResolvedTopology, args: CliArgs, io: CliIO): Promise<number> {
  const { emit } = await import("../deploy/index.ts");
  const partitions = await sourcePartitions(t, cliLogger(t, io));
  const files = emit(args.emit!.kind, t, resolve(args.emit!.out), partitions === null ? {} : { partitions });
  for (const f of files) io.stdout.write(`wrote ${f}\n`);
  return 0;
}
