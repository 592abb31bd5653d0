/**
 * `bun dev/bench/compare.ts RESULT [--baseline NAME]`: compares a bench result (the `--json` line of any
 * dev/bench script, in a file or `-` for stdin; the last JSON line counts) with the recorded baselines in
 * dev/bench/baselines.json, and prints each recorded metric: baseline, now, delta, and whether that is
 * better or worse. Without --baseline, every baseline whose `match` fields equal the result's is used.
 * Baselines taken on a loaded machine say so (`loaded`, `load_avg`): compare costs (CPU s per million,
 * µs per message) across machines and loads, throughput only on the same quiet machine.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Flags, parseFlags, runCli, usageError } from "../../shared/loadgen/cli-flags.ts";

/** One recorded baseline (see dev/bench/BASELINES.md for how they were measured). */
export interface Baseline {
  command: string;
  /** Result fields that must be equal for the baseline to apply (e.g. {"mode": "max", "kafka": "mock"}); "*": present. */
  match: Record<string, unknown>;
  /** Metric path (dots into nested objects) -> recorded value and which direction is better. */
  metrics: Record<string, { value: number; better: "lower" | "higher" }>;
  recorded: string;
  machine: string;
  librdkafka?: string;
  loaded: boolean;
  load_avg?: unknown;
  /** The host's speed when recorded (dev/bench/machine-probe.ts); absent in baselines older than the probe. */
  machine_probe_us?: number;
  note?: string;
}

const BASELINES = resolve(import.meta.dir, "baselines.json");

/** Changes smaller than this share are reported as "same" (run-to-run noise of cost figures here). */
const NOISE = 0.05;

/** The value at a dotted path of `obj`, when it is a number. */
function at(obj: unknown, path: string): number | null {
  let cur: unknown = obj;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object") return null;
    cur = (cur as Record<string, unknown>)[part];
  }
  return typeof cur === "number" && Number.isFinite(cur) ? cur : null;
}

/** The last line of `text` that parses as a JSON object. */
function lastJsonObject(text: string): Record<string, unknown> {
  for (const line of text.trim().split("\n").reverse()) {
    try {
      const v = JSON.parse(line);
      if (v && typeof v === "object" && !Array.isArray(v)) return v;
    } catch {
      // not a JSON line: progress output before the result
    }
  }
  throw usageError("the result holds no JSON object line (run the bench with --json)");
}

/**
 * How much slower this run's host is than the baseline's (probe now / probe then), or null when either lacks
 * the probe. A cost ("lower" is better: CPU-seconds, µs) is expected to grow by this factor on a slower host,
 * a rate ("higher") to shrink by it; the "host-adjusted" column divides that out.
 */
export function hostFactor(b: Baseline, result: Record<string, unknown>): number | null {
  const now = at(result, "machine_probe_us");
  return now !== null && b.machine_probe_us ? now / b.machine_probe_us : null;
}

/**
 * Metrics that scale with the host's speed: CPU costs and rates. Memory (RSS) and latency do not follow the
 * probe, so they are compared as measured.
 */
const HOST_BOUND = /cpu|per_min|per_s\b|_us\b|us_per/;

/** Lines comparing `result` with `b`. */
export function compareWith(name: string, b: Baseline, result: Record<string, unknown>): string[] {
  const lines = [`vs ${name} (${b.recorded}, ${b.machine}${b.loaded ? `, LOADED machine, load ${JSON.stringify(b.load_avg)}` : ""}): ${b.command}`];
  const factor = hostFactor(b, result);
  lines.push(
    factor === null
      ? "  host speed: not comparable (the baseline or the run has no machine_probe_us): differences include the host's"
      : `  host speed: this host's probe is ${factor.toFixed(2)}x the baseline's; "adjusted" scales CPU costs and rates back to the baseline's host (the probe runs at the bench's start: load then inflates it)`,
  );
  for (const [path, m] of Object.entries(b.metrics)) {
    const now = at(result, path);
    if (now === null) {
      lines.push(`  ${path.padEnd(34)} ${String(m.value).padStart(12)}  ->  (absent)`);
      continue;
    }
    const scaled = factor !== null && HOST_BOUND.test(path);
    const adjusted = !scaled ? now : m.better === "lower" ? now / factor : now * factor;
    const delta = m.value === 0 ? 0 : (adjusted - m.value) / m.value;
    const verdict = Math.abs(delta) < NOISE ? "same" : (delta < 0) === (m.better === "lower") ? "better" : "WORSE";
    const shown = scaled ? ` (adjusted ${Number(adjusted.toPrecision(4))})` : "";
    lines.push(`  ${path.padEnd(34)} ${String(m.value).padStart(12)}  ->  ${String(now).padStart(12)}${shown}  ${(delta >= 0 ? "+" : "") + (delta * 100).toFixed(1)}%  ${verdict}`);
  }
  return lines;
}

async function main(): Promise<number> {
  const { values, positionals } = parseFlags(Bun.argv.slice(2), { baseline: { type: "string" }, help: { type: "boolean", short: "h" } }, 1);
  const f = new Flags(values);
  if (f.bool("help") || positionals.length === 0) {
    console.log("Usage: bun dev/bench/compare.ts RESULT.json|- [--baseline NAME]\n(RESULT: the output of a dev/bench script run with --json)");
    return positionals.length === 0 && !f.bool("help") ? 2 : 0;
  }
  const text = positionals[0] === "-" ? await new Response(Bun.stdin.stream()).text() : readFileSync(positionals[0], "utf8");
  const result = lastJsonObject(text);
  const all = JSON.parse(readFileSync(BASELINES, "utf8")) as Record<string, Baseline>;
  const wanted = f.has("baseline") ? f.string("baseline", "") : null;
  const chosen = Object.entries(all).filter(([name, b]) =>
    wanted ? name === wanted : Object.entries(b.match).every(([k, v]) => (v === "*" ? k in result : JSON.stringify(result[k]) === JSON.stringify(v))),
  );
  if (chosen.length === 0) {
    console.log(`no baseline ${wanted ? `named ${wanted}` : "matches this result"}; recorded: ${Object.keys(all).join(", ")}`);
    return 1;
  }
  for (const [name, b] of chosen) console.log(compareWith(name, b, result).join("\n"));
  if (result.load_avg !== undefined) console.log(`this run: load ${JSON.stringify(result.load_avg)}`);
  return 0;
}

if (import.meta.main) runCli(main);
