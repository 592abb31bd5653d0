/**
 * Resource figures of a process tree for the benchmark, from /proc (Linux): the descendants of a pid, and
 * each one's peak RSS (VmHWM). CPU seconds come from the child's rusage after it exits (Bun's
 * Subprocess.resourceUsage(), which includes every descendant the child reaped: the workers), so no sample
 * is missed at the end of a short-lived worker; only memory needs sampling while the tree runs.
 */
import { readdirSync, readFileSync } from "node:fs";

/** One sampled process. */
export interface ProcessSample {
  pid: number;
  ppid: number;
  /** The command line, space-joined. */
  command: string;
  /** Peak resident set size in bytes (VmHWM), 0 when unreadable. */
  peakRssBytes: number;
  /** Resident set size now in bytes (VmRSS), 0 when unreadable. */
  rssBytes: number;
  /** User + system CPU seconds so far (utime + stime). */
  cpuSeconds: number;
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on every mainstream Linux build). */
const USER_HZ = 100;

function readProc(pid: number): ProcessSample | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm may contain spaces and parentheses: fields after the last ")" are fixed.
    const after = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ppid = Number(after[1]);
    // utime and stime are fields 14 and 15 of stat; `after` starts at field 3 (state).
    const cpuSeconds = (Number(after[11]) + Number(after[12])) / USER_HZ;
    const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    return { pid, ppid, command, peakRssBytes: hwm ? Number(hwm[1]) * 1024 : 0, rssBytes: rss ? Number(rss[1]) * 1024 : 0, cpuSeconds };
  } catch {
    return null; // exited between the directory listing and the read: nothing to sample
  }
}

/** The process `root` and all its live descendants (empty off Linux or when root has exited). */
export function processTree(root: number): ProcessSample[] {
  let pids: number[];
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number);
  } catch {
    return [];
  }
  const all = pids.map(readProc).filter((p): p is ProcessSample => p !== null);
  const children = new Map<number, ProcessSample[]>();
  for (const p of all) {
    const list = children.get(p.ppid);
    if (list) list.push(p);
    else children.set(p.ppid, [p]);
  }
  const out: ProcessSample[] = [];
  const rootSample = all.find((p) => p.pid === root);
  if (!rootSample) return out;
  const stack = [rootSample];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(children.get(p.pid) ?? []));
  }
  return out;
}

/** Keeps the highest peak RSS and the latest CPU time seen per pid while a tree runs (sample() every interval, then stop()). */
export class PeakRssSampler {
  private readonly peaks = new Map<number, ProcessSample>();
  private timer: ReturnType<typeof setInterval> | null = null;
  /** Per pid, its RSS at each sample: [ms since start, bytes]. */
  private readonly series = new Map<number, Array<[number, number]>>();
  private readonly startedAt = performance.now();

  constructor(private readonly root: number) {}

  /** Takes one sample now. */
  sample(): void {
    const at = performance.now() - this.startedAt;
    for (const p of processTree(this.root)) {
      const prev = this.peaks.get(p.pid);
      this.peaks.set(p.pid, prev ? { ...p, peakRssBytes: Math.max(prev.peakRssBytes, p.peakRssBytes) } : p);
      const points = this.series.get(p.pid) ?? [];
      points.push([at, p.rssBytes]);
      this.series.set(p.pid, points);
    }
  }

  /** The RSS samples of `pid` so far ([ms since start, bytes]). */
  rssSeries(pid: number): ReadonlyArray<[number, number]> {
    return this.series.get(pid) ?? [];
  }

  /** Samples every `intervalMs` until stop(). */
  start(intervalMs = 500): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    return this;
  }

  /** Stops sampling and returns, per process seen, its peak RSS and its CPU time at the last sample. */
  stop(): ProcessSample[] {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    return [...this.peaks.values()];
  }
}

/** How a process's RSS moved over a run: the mean of its first and last quarter, and the least-squares slope. */
export interface RssTrend {
  firstQuarterMb: number;
  lastQuarterMb: number;
  slopeMbPerMin: number;
}

/**
 * The trend of RSS samples after `skipMs` of warm-up (JIT, first allocations), or null with fewer than 8
 * samples. The slope says whether memory keeps growing; the quarters say by how much in plain terms.
 */
export function rssTrend(points: ReadonlyArray<[number, number]>, skipMs = 0): RssTrend | null {
  const p = points.filter(([t]) => t >= skipMs);
  if (p.length < 8) return null;
  const mb = (b: number) => b / 2 ** 20;
  const mean = (xs: ReadonlyArray<[number, number]>) => xs.reduce((s, [, b]) => s + mb(b), 0) / xs.length;
  const q = Math.floor(p.length / 4);
  const mt = p.reduce((s, [t]) => s + t, 0) / p.length;
  const mr = mean(p);
  let num = 0;
  let den = 0;
  for (const [t, b] of p) {
    num += (t - mt) * (mb(b) - mr);
    den += (t - mt) ** 2;
  }
  const round1 = (x: number) => Math.round(x * 10) / 10;
  return { firstQuarterMb: round1(mean(p.slice(0, q))), lastQuarterMb: round1(mean(p.slice(-q))), slopeMbPerMin: Math.round((den > 0 ? num / den : 0) * 60_000 * 100) / 100 };
}
