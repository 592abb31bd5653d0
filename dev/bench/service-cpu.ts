/**
 * CPU of the services a bench run leans on, which share the machine's cores with the fleet: PostgreSQL's
 * backends serving the bench's database (found in pg_stat_activity while the run goes) and any processes
 * named with --service-pids (e.g. the Kafka broker's JVM: kafka=$(cat /tmp/x-kafka/kafka.pid)). Each process
 * counts from its first sample (user + sys, /proc/<pid>/stat), so work before the run is not charged; a
 * backend that exits keeps its last sample. Linux only; missing /proc entries are skipped.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { Sql } from "postgres";

const USER_HZ = 100;

/** CPU seconds (user + sys) a process has used, or null when it is gone. */
function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / USER_HZ;
  } catch {
    return null;
  }
}

/** Parses "name=pid,name=pid" (the --service-pids flag). */
export function parseServicePids(spec: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const part of spec.split(",").filter(Boolean)) {
    const [name, pid] = part.split("=");
    const n = Number(pid);
    if (!name || !Number.isInteger(n) || n <= 0) throw new Error(`--service-pids: "${part}" is not name=pid`);
    out.set(name, [...(out.get(name) ?? []), n]);
  }
  return out;
}

/** Socket inodes listening on TCP `port` (IPv4 and IPv6), from /proc/net/tcp*. */
function listeningInodes(port: number): Set<string> {
  const out = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is HEX_IP:HEX_PORT; state 0A is LISTEN; inode is the 10th field.
      if (f.length > 9 && f[3] === "0A" && parseInt(f[1].split(":")[1], 16) === port) out.add(f[9]);
    }
  }
  return out;
}

/**
 * The pid of the local process listening on `port` (e.g. the Kafka broker's JVM behind KAFKA_BROKERS), or null
 * when the port is not local or the process is not ours to see. Lets the bench report the broker's CPU per event
 * without a --service-pids flag.
 */
export function localListenerPid(port: number): number | null {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return null;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1])) return Number(pid);
      } catch {
        // the fd closed meanwhile
      }
    }
  }
  return null;
}

/** Samples the CPU of named process groups every second until stopped; PostgreSQL backends are looked up. */
export class ServiceCpuSampler {
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, number>();
  private readonly groups = new Map<string, Set<number>>();
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    fixed: Map<string, number[]>,
    private readonly sql: Sql | null,
  ) {
    for (const [name, pids] of fixed) this.groups.set(name, new Set(pids));
  }

  /** Starts sampling; returns this. */
  async start(intervalMs = 1000): Promise<this> {
    await this.sample();
    this.timer = setInterval(() => void this.sample(), intervalMs);
    return this;
  }

  /** Stops and returns CPU seconds per group over the sampled span. */
  async stop(): Promise<Record<string, number>> {
    if (this.timer) clearInterval(this.timer);
    await this.sample();
    const out: Record<string, number> = {};
    for (const [name, pids] of this.groups) {
      let s = 0;
      for (const pid of pids) s += (this.last.get(pid) ?? 0) - (this.first.get(pid) ?? 0);
      out[name] = Math.round(s * 100) / 100;
    }
    return out;
  }

  private async sample(): Promise<void> {
    if (this.sql) {
      const rows = await this.sql<Array<{ pid: number }>>`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`.catch(() => []);
      const pg = this.groups.get("postgres") ?? new Set<number>();
      for (const r of rows) pg.add(r.pid);
      this.groups.set("postgres", pg);
    }
    for (const pids of this.groups.values())
      for (const pid of pids) {
        const cpu = processCpuSeconds(pid);
        if (cpu === null) continue;
        if (!this.first.has(pid)) this.first.set(pid, cpu);
        this.last.set(pid, cpu);
      }
  }
}
