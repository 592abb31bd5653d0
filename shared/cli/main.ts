/**
 * `bun run topology <file> [flags]`: parses the command line, loads the topology and dispatches to a mode.
 * Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error (every issue printed as
 * `file:line:col: path: message`). stdout carries only results (OK, explain text, live line, summary);
 * diagnostics go to stderr.
 */
import { ConfigError, TopofleetError } from "../errors/index.ts";
import { redactSecretsInText } from "../config/secrets.ts";
import type { ResolvedTopology } from "../topology/types.ts";
import { parseArgs, USAGE, type CliArgs } from "./args.ts";
import { emitCommand, explainCommand, migrateCommand, validateCommand } from "./commands.ts";
import { runCommand } from "./run.ts";
import { processIO, type CliIO } from "./io.ts";



/** Runs the CLI; resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  let args: CliArgs;
  try {
    args = parseArgs(argv);
  } catch (err) {
    return reportError(err, io);
  }
  if (args.mode === "help") {
    io.stdout.write(USAGE);
    return 0;
  }
  if (args.mode === "version") return versionCommand(io);
  try {
    const { loadTopology } = await import("../topology/index.ts");
    const topology: ResolvedTopology = await loadTopology(args.file!, {
      env: io.env,
      overrides: args.replicas === null ? undefined : { replicas: args.replicas },
    });
    switch (args.mode) {
      case "validate":
        return await validateCommand(topology, io);
      case "explain":
        return await explainCommand(topology, io);
      case "migrate":
        return await migrateCommand(topology, args, io);
      case "emit":
        return await emitCommand(topology, args, io);
      case "run":
        return await runCommand(topology, args, io);
    }
  } catch (err) {
    return reportError(err, io);
  }
}

/** `--version`: topofleet, Bun and the librdkafka that would be loaded, with its path and how it was chosen. */
async function versionCommand(io: CliIO): Promise<number> {
  const { default: pkg } = await import("../../package.json");
  io.stdout.write(`topofleet ${pkg.version}\nbun ${Bun.version}\n`);
  try {
    const { rdkafkaInfo } = await import("../kafka/index.ts");
    const lib = rdkafkaInfo();
    io.stdout.write(`librdkafka ${lib.version} (${lib.path}, chosen by ${lib.source})\n`);
    return 0;
  } catch (err) {
    return reportError(err, io);
  }
}

/** Prints an error for humans and maps it to the exit code: 2 for configuration/usage, 1 otherwise. */
export function reportError(err: unknown, io: CliIO): number {
  if (err instanceof ConfigError) {
    io.stderr.write(`error: ${err.code}: ${err.message}\n`);
    return 2;
  }
  const detail = err instanceof TopofleetError ? `${err.code}: ${err.message}` : err instanceof Error ? err.stack ?? err.message : String(err);
  io.stderr.write(`fatal: ${redactSecretsInText(detail)}\n`);
  return 1;
}
