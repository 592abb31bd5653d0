/**
 * Command-line parsing for `bun run topology <file> [flags]`. Strict: an unknown flag, a missing value or
 * a bad value is a ConfigError("CONFIG_USAGE") naming the flag, which the CLI turns into exit code 2.
 */
import { ConfigError } from "../errors/index.ts";

/** Deployment flavours `--emit` can write (the deploy emitters in shared/deploy). */
export const EMIT_KINDS = ["systemd", "k8s", "compose"] as const;
export type EmitKind = (typeof EMIT_KINDS)[number];

/** What the user asked for. */
export type CliMode = "run" | "validate" | "explain" | "migrate" | "emit" | "help" | "version";

/** Parsed command line. */
export interface CliArgs {
  mode: CliMode;
  /** The topology file as given (null only for --help and --version). */
  file: string | null;
  replicas: number | null;
  maxEvents: number | null;
  json: boolean;
  dataDir: string | null;
  emit: { kind: EmitKind; out: string } | null;
}

/** The --help text. */
export const USAGE = `Usage: bun run topology <topology.yaml> [flags]

Runs the pipeline described by a topology file: a supervisor process spawns the worker processes,
restarts them when they crash, scales them on consumer lag and serves /metrics, /healthz and /readyz.

Modes (at most one; default: run the fleet):
  --validate              check the file only; print OK and any warnings (exit 0), or every issue (exit 2)
  --explain               print the resolved topology (secrets redacted) and what bounds its throughput
  --migrate               run the persist stage's schema migration, then exit
  --emit KIND --out DIR   write deployment files: KIND is systemd, k8s or compose

Run options:
  --replicas N            fixed number of worker processes (overrides concurrency.replicas)
  --max-events N          stop cleanly once N source events are fully processed (committed)
  --json                  print a JSON summary as the last stdout line instead of the live line
  --data-dir DIR          directory for embedded state (default: $TOPOFLEET_DATA_DIR or ./.data/<name>)
  --version               print the versions of topofleet, Bun and the librdkafka in use (and where it came from)
  -h, --help              show this help

Exit codes: 0 success, 1 runtime failure (or workers killed at the shutdown deadline), 2 usage or
configuration error. Logs are JSON lines on stderr; stdout carries only the live line and the summary.
`;

const usage = (message: string): ConfigError => new ConfigError("CONFIG_USAGE", `${message}\nRun with --help for usage.`);

const positiveInt = (flag: string, raw: string): number => {
  if (!/^[0-9]+$/.test(raw) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw))) {
    throw usage(`${flag} expects a positive integer, got "${raw}"`);
  }
  return Number(raw);
};

const MODE_FLAGS: Record<string, CliMode> = { "--validate": "validate", "--explain": "explain", "--migrate": "migrate", "--emit": "emit" };
const VALUE_FLAGS = new Set(["--replicas", "--max-events", "--data-dir", "--emit", "--out"]);
const BOOL_FLAGS = new Set(["--validate", "--explain", "--migrate", "--json", "--help", "-h", "--version"]);
/** Flags that only make sense when running the fleet. */
const RUN_ONLY = ["--max-events", "--json"];

/** Parses argv (without the runtime and script). Throws ConfigError("CONFIG_USAGE") naming the bad flag. */
export function parseArgs(argv: readonly string[]): CliArgs {
  const values = new Map<string, string>();
  const seen = new Set<string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    if (!VALUE_FLAGS.has(flag) && !BOOL_FLAGS.has(flag)) throw usage(`unknown flag ${flag}`);
    if (seen.has(flag)) throw usage(`${flag} given more than once`);
    seen.add(flag);
    if (BOOL_FLAGS.has(flag)) {
      if (eq > 0) throw usage(`${flag} takes no value`);
      continue;
    }
    let value: string | undefined;
    if (eq > 0) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) value = argv[++i];
    if (value === undefined || value === "") throw usage(`${flag} needs a value`);
    values.set(flag, value);
  }

  if (seen.has("--help") || seen.has("-h")) {
    return { mode: "help", file: null, replicas: null, maxEvents: null, json: false, dataDir: null, emit: null };
  }
  if (seen.has("--version")) {
    return { mode: "version", file: null, replicas: null, maxEvents: null, json: false, dataDir: null, emit: null };
  }
  const modes = Object.keys(MODE_FLAGS).filter((f) => seen.has(f));
  if (modes.length > 1) throw usage(`${modes[0]} and ${modes[1]} cannot be combined`);
  const mode: CliMode = modes.length ? MODE_FLAGS[modes[0]] : "run";
  if (mode !== "run") {
    const runOnly = RUN_ONLY.find((f) => seen.has(f));
    if (runOnly) throw usage(`${runOnly} only applies when running the fleet, not with ${modes[0]}`);
  }

  if (positional.length === 0) throw usage("missing the topology file");
  if (positional.length > 1) throw usage(`expected one topology file, got ${positional.length}: ${positional.join(" ")}`);

  let emit: CliArgs["emit"] = null;
  if (mode === "emit") {
    const kind = values.get("--emit")!;
    if (!(EMIT_KINDS as readonly string[]).includes(kind)) throw usage(`--emit expects one of ${EMIT_KINDS.join(", ")}, got "${kind}"`);
    const out = values.get("--out");
    if (!out) throw usage("--emit needs --out DIR");
    emit = { kind: kind as EmitKind, out };
  } else if (values.has("--out")) {
    throw usage("--out only applies with --emit");
  }

  return {
    mode,
    file: positional[0],
    replicas: values.has("--replicas") ? positiveInt("--replicas", values.get("--replicas")!) : null,
    maxEvents: values.has("--max-events") ? positiveInt("--max-events", values.get("--max-events")!) : null,
    json: seen.has("--json"),
    dataDir: values.get("--data-dir") ?? null,
    emit,
  };
}
