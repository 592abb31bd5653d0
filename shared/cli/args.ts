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

/** One flag of the `topology` command; the table below is what parseArgs accepts, --help prints and docs/reference/cli.md lists. */
export interface FlagSpec {
  /** The flag as typed, e.g. `--replicas`. */
  flag: string;
  /** Placeholder of its value (`N`, `DIR`); absent for a switch. */
  value?: string;
  /** `mode`: at most one of these; `run`: only when running the fleet; `option`: anywhere. */
  group: "mode" | "run" | "option";
  /** The one-line --help text. */
  help: string;
  /** More detail for the reference page, after the help text. */
  more?: string;
}

/** Every flag of `bun run topology`. */
export const FLAGS: readonly FlagSpec[] = [
  {
    flag: "--validate",
    group: "mode",
    help: "check the file only; print OK and any warnings (exit 0), or every issue (exit 2)",
    more: "Every custom stage and enrich module is imported too (in a throw-away thread, under the start-up deadline `TOPOFLEET_MODULE_START_TIMEOUT_MS`): prints `OK <file>: …` and any warnings; exit 0, or every issue on stderr and exit 2.",
  },
  {
    flag: "--explain",
    group: "mode",
    help: "print the resolved topology (secrets redacted) and what bounds its throughput",
    more: "Also partitions vs replicas, threads and batch sizes. For a `kafka:` source the partition count is queried from the cluster when it answers within 5 s; for `mock:` it comes from the file.",
  },
  {
    flag: "--migrate",
    group: "mode",
    help: "run the persist stage's schema migration, then exit",
    more: "Runs each persist stage's migration (idempotent); `url: embedded` migrates PGlite under the data dir.",
  },
  {
    flag: "--emit",
    value: "KIND",
    group: "mode",
    help: "write deployment files: KIND is systemd, k8s or compose (with --out DIR)",
    more: "Writes the deployment files for this topology into the `--out` directory (see docs/operations.md, \"Deploying\").",
  },
  { flag: "--out", value: "DIR", group: "option", help: "the directory --emit writes into" },
  {
    flag: "--replicas",
    value: "N",
    group: "option",
    help: "fixed number of worker processes (overrides concurrency.replicas)",
    more: "Sets `concurrency.replicas` min = max = N.",
  },
  {
    flag: "--max-events",
    value: "N",
    group: "run",
    help: "stop cleanly once N source events are fully processed (committed)",
    more: "Then prints the summary; the summary may show a little more than N (workers report progress every second and finish their in-flight batches).",
  },
  {
    flag: "--json",
    group: "run",
    help: "print a JSON summary as the last stdout line instead of the live line",
  },
  {
    flag: "--data-dir",
    value: "DIR",
    group: "option",
    help: "directory for embedded state (default: $TOPOFLEET_DATA_DIR or ./.data/<name>)",
    more: "Embedded state is PGlite's files for `persist.url: embedded`.",
  },
  { flag: "--version", group: "option", help: "print the versions of topofleet, Bun and the librdkafka in use (and where it came from)" },
  { flag: "--help", group: "option", help: "show this help (also -h)" },
];

const column = (f: FlagSpec) => `  ${`${f.flag}${f.value ? ` ${f.value}` : ""}`.padEnd(24)}${f.help}`;

/** The --help text. */
export const USAGE = `Usage: bun run topology <topology.yaml> [flags]

Runs the pipeline described by a topology file: a supervisor process spawns the worker processes,
restarts them when they crash, scales them on consumer lag and serves /metrics, /healthz and /readyz.

Modes (at most one; default: run the fleet):
${FLAGS.filter((f) => f.group === "mode").map(column).join("\n")}

Run options:
${FLAGS.filter((f) => f.group !== "mode").map(column).join("\n")}

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

const MODE_FLAGS: Record<string, CliMode> = Object.fromEntries(
  FLAGS.filter((f) => f.group === "mode").map((f) => [f.flag, f.flag.slice(2) as CliMode]),
);
const VALUE_FLAGS = new Set(FLAGS.filter((f) => f.value).map((f) => f.flag));
const BOOL_FLAGS = new Set([...FLAGS.filter((f) => !f.value).map((f) => f.flag), "-h"]);
/** Flags that only make sense when running the fleet. */
const RUN_ONLY = FLAGS.filter((f) => f.group === "run").map((f) => f.flag);

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
