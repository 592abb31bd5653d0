/**
 * Summarizes `.cpuprofile` files (written by `bun --cpu-prof`, e.g. through `bun run bench --profile DIR`):
 * self time per function and per source file, largest first, so "where do the µs per event go" is one
 * command instead of a trip through a profiler UI.
 *
 *   bun dev/bench/profile-summary.ts <file.cpuprofile | dir> [--top N] [--events N] [--json]
 *
 * With a directory, every .cpuprofile in it is summarized on its own (one per process). `--events N` adds a
 * µs-per-event column (self time / N). With --json the last stdout line is an array of the summaries.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { parseFlags, runCli, Flags, usageError } from "../../shared/loadgen/cli-flags.ts";

const REPO = resolve(import.meta.dir, "../..");

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** One row of a summary: a function (or file) and its self time. */
export interface SelfTime {
  name: string;
  ms: number;
  share: number;
}

/** The summary of one profile. */
export interface ProfileSummary {
  file: string;
  /** Wall time the profile covers, ms. */
  wallMs: number;
  /** Time the JS thread spent running (sampled), ms. */
  busyMs: number;
  functions: SelfTime[];
  files: SelfTime[];
}

/** Frames that stand for "the thread was waiting", not work. */
const IDLE = new Set(["(idle)"]);

const shortUrl = (url: string): string => {
  if (!url) return "(native)";
  const path = url.startsWith("file://") ? url.slice(7) : url;
  return path.startsWith(REPO) ? relative(REPO, path) : path.replace(/^.*\/node_modules\//, "node_modules/");
};

/** Self time per function and per file of one profile. */
export function summarize(profile: CpuProfile, file: string): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const selfUs = new Map<number, number>();
  // JSC samples only while JS runs: the gap after a sample taken just before the thread went idle spans the
  // idle time. So a sample weighs the gap to the next one, capped at twice the typical (median) gap.
  const sorted = profile.timeDeltas.filter((d) => d > 0).sort((a, b) => a - b);
  const cap = 2 * (sorted[sorted.length >> 1] ?? 1000);
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = Math.min(profile.timeDeltas[i + 1] ?? cap / 2, cap);
    selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + dt);
  }
  const fn = new Map<string, number>();
  const files = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const cf = byId.get(id)!.callFrame;
    if (IDLE.has(cf.functionName)) continue;
    busy += us;
    const where = shortUrl(cf.url);
    const name = `${cf.functionName || "(anonymous)"} ${where}${cf.url ? `:${cf.lineNumber + 1}` : ""}`;
    fn.set(name, (fn.get(name) ?? 0) + us);
    files.set(where, (files.get(where) ?? 0) + us);
  }
  const rows = (m: Map<string, number>): SelfTime[] =>
    [...m].map(([name, us]) => ({ name, ms: us / 1000, share: busy > 0 ? us / busy : 0 })).sort((a, b) => b.ms - a.ms);
  return { file, wallMs: (profile.endTime - profile.startTime) / 1000, busyMs: busy / 1000, functions: rows(fn), files: rows(files) };
}

function profilesIn(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((f) => f.endsWith(".cpuprofile"))
    .sort()
    .map((f) => join(path, f));
}

function table(rows: SelfTime[], top: number, events: number | null): string {
  return rows
    .slice(0, top)
    .map((r) => {
      const perEvent = events ? `${((r.ms * 1000) / events).toFixed(2).padStart(7)} µs/ev  ` : "";
      return `  ${r.ms.toFixed(0).padStart(7)} ms  ${(r.share * 100).toFixed(1).padStart(5)}%  ${perEvent}${r.name}`;
    })
    .join("\n");
}

async function main(): Promise<number> {
  const argv = Bun.argv.slice(2);
  const { values, positionals } = parseFlags(argv, { top: { type: "string" }, events: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } }, 1);
  const f = new Flags(values);
  if (f.bool("help") || positionals.length === 0) {
    console.log("Usage: bun dev/bench/profile-summary.ts <file.cpuprofile | dir> [--top N] [--events N] [--json]");
    return positionals.length === 0 && !f.bool("help") ? 2 : 0;
  }
  const top = f.int("top", 25, 1);
  const events = f.int("events", null, 1);
  const files = profilesIn(positionals[0]);
  if (files.length === 0) throw usageError(`no .cpuprofile files in ${positionals[0]}`);
  const out: ProfileSummary[] = [];
  for (const file of files) {
    const s = summarize(JSON.parse(readFileSync(file, "utf8")) as CpuProfile, basename(file));
    out.push(s);
    const perEvent = events ? `, ${((s.busyMs * 1000) / events).toFixed(2)} µs/event` : "";
    console.log(`\n${s.file}: ${(s.busyMs / 1000).toFixed(2)} s busy of ${(s.wallMs / 1000).toFixed(2)} s wall${perEvent}`);
    console.log(` by file:\n${table(s.files, Math.min(top, 15), events)}`);
    console.log(` by function (self time):\n${table(s.functions, top, events)}`);
  }
  if (f.bool("json")) console.log(JSON.stringify(out.map((s) => ({ ...s, functions: s.functions.slice(0, top), files: s.files.slice(0, top) }))));
  return 0;
}

if (import.meta.main) runCli(main);
