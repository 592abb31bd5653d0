/**
 * Durations and sizes as users write them in topology files: a plain number (milliseconds / bytes) or a
 * number with a unit. The `try*` forms return undefined so the validator can attach a file position;
 * the exported `parse*` forms throw for reuse outside the loader (CLI flags, env overrides).
 */
import { ConfigError } from "../errors/index.ts";

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** Regex source (for JSON Schema `pattern`) accepted for duration strings. */
export const DURATION_PATTERN = "^[0-9]+(\\.[0-9]+)?\\s*(ms|s|m|h|d)?$";
/** Regex source (for JSON Schema `pattern`) accepted for size strings; units are case-insensitive. */
export const SIZE_PATTERN = "^[0-9]+(\\.[0-9]+)?\\s*([bB]|[kKmMgGtT][iI]?[bB])?$";

const DURATION_RE = new RegExp(DURATION_PATTERN);
const SIZE_RE = new RegExp(SIZE_PATTERN);

/** Milliseconds for a number or a `250ms`/`30s`/`5m`/`1h`/`1d` string (no unit: ms); undefined when malformed or negative. */
export function tryParseDuration(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
  if (typeof value !== "string") return undefined;
  const m = DURATION_RE.exec(value.trim());
  if (!m) return undefined;
  return Math.round(Number.parseFloat(value) * DURATION_UNITS[m[2] ?? "ms"]!);
}

/** Bytes for a number or a `512KiB`/`4MiB`/`1GB` string; undefined when malformed or negative. */
export function tryParseSize(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
  if (typeof value !== "string") return undefined;
  const m = SIZE_RE.exec(value.trim());
  if (!m) return undefined;
  return Math.round(Number.parseFloat(value) * SIZE_UNITS[(m[2] ?? "b").toLowerCase()]!);
}

/** Parses a duration (number = ms, or `250ms`, `30s`, `5m`, `1h`, `1d`) into ms; throws ConfigError naming `path`. */
export function parseDuration(value: unknown, path: string): number {
  const ms = tryParseDuration(value);
  if (ms === undefined) throw new ConfigError("CONFIG_INVALID", `${path}: ${durationProblem(value)}`);
  return ms;
}

/** Parses a size (number = bytes, or `512KiB`, `4MiB`, `1GB`) into bytes; throws ConfigError naming `path`. */
export function parseSize(value: unknown, path: string): number {
  const bytes = tryParseSize(value);
  if (bytes === undefined) throw new ConfigError("CONFIG_INVALID", `${path}: ${sizeProblem(value)}`);
  return bytes;
}

/** The message for a value that is not a duration. */
export function durationProblem(value: unknown): string {
  return `invalid duration ${show(value)}: use milliseconds (a number) or a number with ms, s, m, h or d (e.g. 250ms, 30s, 5m)`;
}

/** The message for a value that is not a size. */
export function sizeProblem(value: unknown): string {
  return `invalid size ${show(value)}: use bytes (a number) or a number with B, KB, MB, GB, KiB, MiB or GiB (e.g. 512KiB, 8MiB)`;
}

/** Formats milliseconds back into the largest whole unit (for explain output). */
export function formatDuration(ms: number): string {
  for (const [unit, f] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1_000]] as const) {
    if (ms >= f && ms % f === 0) return `${ms / f}${unit}`;
  }
  return `${ms}ms`;
}

/** Formats bytes back into the largest whole binary unit (for explain output). */
export function formatSize(bytes: number): string {
  for (const [unit, f] of [["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]] as const) {
    if (bytes >= f && bytes % f === 0) return `${bytes / f}${unit}`;
  }
  return `${bytes}B`;
}

function show(value: unknown): string {
  const text = typeof value === "string" ? JSON.stringify(value) : String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** A rate or count for humans: 119000 → "119k", 2930000 → "2.93M". */
export function formatCount(n: number): string {
  return n >= 1_000_000 ? `${(n / 1_000_000).toFixed(2)}M` : n >= 1000 ? `${Math.round(n / 1000)}k` : String(n);
}
