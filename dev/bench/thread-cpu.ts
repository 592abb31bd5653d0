/**
 * CPU per thread kind of a set of processes, from /proc/<pid>/task/<tid>/stat (Linux). A worker's CPU is
 * spread over its JS main thread ("bun" / "bun.exe"), the enrich threads (piscina: "Worker"), librdkafka's
 * threads ("rdk:main", "rdk:broker…"), the JIT ("JITWorker"), the GC ("HeapHelper") and mimalloc
 * ("mi-scavenger"); a .cpuprofile covers only the first. Sampling keeps the last value seen per thread, so a
 * thread that exits between samples loses at most one interval.
 */
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc stat times (USER_HZ). */
const USER_HZ = 100;

/** CPU seconds of one thread kind summed over the sampled processes. */
export interface ThreadKindCpu {
  kind: string;
  threads: number;
  cpuSeconds: number;
}

/** Thread kinds by their comm name: numbered siblings (rdk:broker1, rdk:broker-1) fold into one kind. */
const kindOf = (comm: string): string => (comm === "bun.exe" ? "bun" : comm.replace(/-?\d+$/, ""));

/** CPU seconds (user + sys) one thread has used: the calling process's JS main thread by default (tid = pid). */
export function threadCpuSeconds(pid: number = process.pid, tid: number = pid): number {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
  const after = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(after[11]) + Number(after[12])) / USER_HZ;
}

/** Samples the threads of chosen processes every `intervalMs` until stopped. */
export class ThreadCpuSampler {
  private readonly last = new Map<string, { kind: string; ticks: number }>();
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly pids: () => number[]) {}

  /** Starts sampling; returns this. */
  start(intervalMs: number): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    return this;
  }

  /** Stops sampling and returns CPU per thread kind, largest first. */
  stop(): ThreadKindCpu[] {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const by = new Map<string, ThreadKindCpu>();
    for (const { kind, ticks } of this.last.values()) {
      const k = by.get(kind) ?? { kind, threads: 0, cpuSeconds: 0 };
      k.threads++;
      k.cpuSeconds += ticks / USER_HZ;
      by.set(kind, k);
    }
    return [...by.values()].sort((a, b) => b.cpuSeconds - a.cpuSeconds);
  }

  private sample(): void {
    for (const pid of this.pids()) {
      let tids: string[];
      try {
        tids = readdirSync(`/proc/${pid}/task`);
      } catch {
        continue; // the process exited
      }
      for (const tid of tids) {
        try {
          const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
          const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
          const after = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
          this.last.set(`${pid}/${tid}`, { kind: kindOf(comm), ticks: Number(after[11]) + Number(after[12]) });
        } catch {
          // the thread exited between the listing and the read; its previous sample stays
        }
      }
    }
  }
}
