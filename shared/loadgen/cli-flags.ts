/**
 * Strict flag parsing for the dev tools (gen, bench, replay): node:util parseArgs rejects unknown flags,
 * and these helpers turn each flag's text into a checked value or a ConfigError("CONFIG_USAGE") naming the
 * flag, which the tools print and exit 2 with.
 */
import { parseArgs } from "node:util";
import { ConfigError } from "../errors/index.ts";
import { tryParseDuration, tryParseSize } from "../config/units.ts";
import type { GeneratorConfig } from "../topology/types.ts";

export type FlagSpec = Record<string, { type: "string" | "boolean"; short?: string }>;
type FlagValues = Record<string, string | boolean | undefined>;

/** A usage error naming the flag (exit code 2 in the tools). */
export function usageError(message: string): ConfigError {
  return new ConfigError("CONFIG_USAGE", `${message}\nRun with --help for usage.`);
}

/** Parses argv against `spec`; unknown flags and stray positionals are usage errors. */
export function parseFlags(argv: readonly string[], spec: FlagSpec, positionals = 0): { values: FlagValues; positionals: string[] } {
  try {
    const r = parseArgs({ args: [...argv], options: spec, strict: true, allowPositionals: positionals > 0 });
    if (r.positionals.length > positionals) throw usageError(`unexpected argument "${r.positionals[positionals]}"`);
    return { values: r.values as FlagValues, positionals: r.positionals };
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw usageError((err as Error).message);
  }
}

/** Typed accessors over parsed flag values; each throws a usage error naming the flag. */
export class Flags {
  constructor(private readonly values: FlagValues) {}

  /** True when the flag was given. */
  has(name: string): boolean {
    return this.values[name] !== undefined;
  }

  /** A boolean flag: true when given. */
  bool(name: string): boolean {
    return this.values[name] === true;
  }

  /** A string flag's value, or `def`. */
  string(name: string): string | undefined;
  string(name: string, def: string): string;
  string(name: string, def?: string): string | undefined {
    const v = this.values[name];
    return typeof v === "string" ? v : def;
  }

  /** An integer >= min (underscores allowed: 1_000_000). */
  int(name: string, def: number, min?: number): number;
  int(name: string, def: null, min?: number): number | null;
  int(name: string, def: number | null, min = 0): number | null {
    const v = this.string(name);
    if (v === undefined) return def;
    const n = Number(v.replaceAll("_", ""));
    if (!Number.isSafeInteger(n) || n < min) throw usageError(`--${name} expects an integer >= ${min}, got "${v}"`);
    return n;
  }

  /** A finite number >= min. */
  number(name: string, def: number, min = 0): number {
    const v = this.string(name);
    if (v === undefined) return def;
    const n = Number(v.replaceAll("_", ""));
    if (!Number.isFinite(n) || n < min) throw usageError(`--${name} expects a number >= ${min}, got "${v}"`);
    return n;
  }

  /** A share in [0, 1]. */
  ratio(name: string, def: number): number {
    const n = this.number(name, def);
    if (n > 1) throw usageError(`--${name} expects a ratio between 0 and 1, got "${this.string(name)}"`);
    return n;
  }

  /** A duration: milliseconds, or 250ms / 30s / 5m / 1h. */
  duration(name: string, def: number | null): number | null {
    const v = this.string(name);
    if (v === undefined) return def;
    const ms = tryParseDuration(/^[0-9.]+$/.test(v) ? Number(v) : v);
    if (ms === undefined) throw usageError(`--${name} expects a duration like 500ms, 30s or 5m, got "${v}"`);
    return ms;
  }

  /** A size: bytes, or 512KiB / 4MiB. */
  size(name: string, def: number): number {
    const v = this.string(name);
    if (v === undefined) return def;
    const b = tryParseSize(/^[0-9]+$/.test(v) ? Number(v) : v);
    if (b === undefined) throw usageError(`--${name} expects a size like 200, 1KiB or 4MiB, got "${v}"`);
    return b;
  }

  /** One of `choices`. */
  oneOf<T extends string>(name: string, choices: readonly T[], def: T): T {
    const v = this.string(name);
    if (v === undefined) return def;
    if (!(choices as readonly string[]).includes(v)) throw usageError(`--${name} expects one of ${choices.join("|")}, got "${v}"`);
    return v as T;
  }
}

/** Runs a CLI main: usage/config errors exit 2 with the message, other errors exit 1. */
export function runCli(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (err) => {
      const usage = err instanceof ConfigError;
      console.error(usage ? err.message : `error: ${err?.stack ?? err}`);
      process.exit(usage ? 2 : 1);
    },
  );
}

/** Flags that shape the generated events, shared by `bun run gen` and `bun run bench`. */
export const GENERATOR_FLAG_SPEC = {
  events: { type: "string" },
  rate: { type: "string" },
  duration: { type: "string" },
  partitions: { type: "string" },
  size: { type: "string" },
  tenants: { type: "string" },
  "dup-ratio": { type: "string" },
  "invalid-ratio": { type: "string" },
  "binary-ratio": { type: "string" },
  key: { type: "string" },
  compression: { type: "string" },
  seed: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** The generated events' shape from the shared flags (--tenants, ratios, --size); rate and volume are the caller's. */
export function generatorConfigFromFlags(f: Flags, rate: number, events: number | null): GeneratorConfig {
  const config: GeneratorConfig = {
    rate,
    events,
    tenants: f.int("tenants", 8, 1),
    duplicateRatio: f.ratio("dup-ratio", 0.02),
    invalidRatio: f.ratio("invalid-ratio", 0.01),
    binaryRatio: f.ratio("binary-ratio", 0.1),
    payloadBytes: f.size("size", 200),
  };
  if (config.duplicateRatio + config.invalidRatio >= 1) throw usageError("--dup-ratio + --invalid-ratio must be < 1");
  return config;
}
