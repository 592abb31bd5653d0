/**
 * `bun dev/bench/sustained-max.ts`: the highest offered rate the fleet sustains. Each probe is one sustained
 * e2e run (`dev/bench/e2e.ts --rate R --duration D`, fresh topic, table and filters, exact audit); a probe
 * passes when the audit is exact, p99 (event time -> row written) is within --p99, and the generator really
 * offered the rate (all events within the duration plus 2 s or 3 % for the last acknowledgements: on a
 * loaded machine it may fall behind, and then the probe says nothing about the fleet).
 * The rate grows by --growth from --from until a probe fails, then is bisected until the bracket is narrower
 * than --resolution. Prints every probe, the result, and the e2e command that reproduces the best probe.
 */
import { resolve } from "node:path";
import { Flags, parseFlags, runCli, usageError } from "../../shared/loadgen/cli-flags.ts";

const REPO = resolve(import.meta.dir, "../..");

/** The --help text (also in docs/reference/cli.md). */
export const USAGE = `Usage: bun dev/bench/sustained-max.ts [flags] [e2e flags]

Finds the highest rate (events/s) the fleet sustains for --duration with an exact audit and p99 <= --p99.

  --from R          first probe, events/s (default 10000)
  --to R            never probe above R (default 200000)
  --growth X        factor between probes until the first failure (default 1.5)
  --resolution X    stop bisecting when (fail - pass) / pass < X (default 0.05)
  --duration D      each probe's sustained duration (default 2m; the issue's bar is 10m)
  --p99 MS          latency bound (default 2000)
  --probes N        at most N probes (default 12)
  --json            last stdout line: {"max_sustained_per_s","max_sustained_per_min","duration_ms","p99_bound_ms",
                    "probes":[{rate,pass,why,p99_ms,offered_per_s,cpu_s_per_million,...}],"command","reproduce"}
  -h, --help

Every other flag goes to each e2e run unchanged (e.g. --replicas 2 --threads 1 --partitions 24 --dedupe bloom).
Kafka, PostgreSQL and Redis come from the same environment as for e2e.ts.
`;

const SPEC = {
  from: { type: "string" },
  to: { type: "string" },
  growth: { type: "string" },
  resolution: { type: "string" },
  duration: { type: "string" },
  p99: { type: "string" },
  probes: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** What one probe reported (the e2e --json line) and the verdict. */
interface Probe {
  rate: number;
  pass: boolean;
  why: string;
  p99_ms: number | null;
  offered_per_s: number | null;
  events_per_min: number | null;
  cpu_s_per_million: number | null;
  audit: string;
  load_avg: unknown;
  /** The worst worker's RSS over the probe (e2e's rss_trend): flat or growing. */
  rss_trend?: unknown;
  machine_probe_us?: unknown;
}

/** Separates this script's flags (SPEC) from the e2e flags passed through; a "--" is skipped. */
function splitArgs(argv: string[]): { own: string[]; passthrough: string[] } {
  const own: string[] = [];
  const passthrough: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") continue;
    const name = a.startsWith("--") ? a.slice(2).split("=")[0] : a === "-h" ? "help" : null;
    const spec = name !== null ? (SPEC as Record<string, { type: string }>)[name] : undefined;
    if (!spec) {
      passthrough.push(a);
      continue;
    }
    own.push(a);
    if (spec.type === "string" && !a.includes("=") && i + 1 < argv.length) own.push(argv[++i]);
  }
  return { own, passthrough };
}

/** Runs one sustained e2e probe at `rate` and judges it. */
async function probe(rate: number, durationMs: number, p99BoundMs: number, passthrough: string[]): Promise<Probe> {
  const args = ["dev/bench/e2e.ts", "--rate", String(rate), "--duration", `${Math.round(durationMs / 1000)}s`, ...passthrough, "--json"];
  const proc = Bun.spawn([process.execPath, ...args], { cwd: REPO, stdout: "pipe", stderr: "inherit", env: process.env });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  let r: Record<string, unknown> = {};
  try {
    r = JSON.parse(out.trim().split("\n").at(-1) ?? "");
  } catch {
    return { rate, pass: false, why: `e2e exited ${proc.exitCode} without a result`, p99_ms: null, offered_per_s: null, events_per_min: null, cpu_s_per_million: null, audit: "none", load_avg: null };
  }
  const num = (k: string) => (typeof r[k] === "number" ? (r[k] as number) : null);
  const p = { rate, p99_ms: num("p99_ms"), offered_per_s: num("offered_per_s"), events_per_min: num("events_per_min"), cpu_s_per_million: num("cpu_s_per_million"), audit: String(r.audit), load_avg: r.load_avg, rss_trend: r.rss_trend, machine_probe_us: r.machine_probe_us };
  // The generator's figure includes waiting for the last acknowledgements: allow that tail (2 s or 3 %).
  const minOffered = (rate * durationMs) / (durationMs + Math.max(2000, durationMs * 0.03));
  if (p.offered_per_s !== null && p.offered_per_s < minOffered) return { ...p, pass: false, why: `generator offered only ${p.offered_per_s}/s (machine-bound, not a fleet verdict)` };
  if (r.audit !== "pass") return { ...p, pass: false, why: `audit ${r.audit} (lost ${r.lost}, duplicated ${r.duplicated})` };
  if (p.p99_ms === null || p.p99_ms > p99BoundMs) return { ...p, pass: false, why: `p99 ${p.p99_ms} ms > ${p99BoundMs} ms` };
  return { ...p, pass: true, why: "exact, p99 within bound" };
}

async function main(): Promise<number> {
  const argv = Bun.argv.slice(2);
  const { own, passthrough } = splitArgs(argv);
  const f = new Flags(parseFlags(own, SPEC).values);
  if (f.bool("help")) {
    console.log(USAGE);
    return 0;
  }
  for (const banned of ["--rate", "--duration", "--events", "--json"])
    if (passthrough.includes(banned)) throw usageError(`${banned} is set by sustained-max itself; do not pass it through to e2e.ts`);
  const json = f.bool("json");
  const say = json ? (s: string) => console.error(s) : (s: string) => console.log(s);
  const from = f.number("from", 10_000, 1);
  const to = f.number("to", 200_000, 1);
  const growth = f.number("growth", 1.5, 1.01);
  const resolution = f.number("resolution", 0.05, 0.001);
  const durationMs = f.duration("duration", 120_000)!;
  const p99 = f.number("p99", 2000, 1);
  const maxProbes = f.int("probes", 12, 1)!;
  const command = `bun dev/bench/sustained-max.ts ${argv.join(" ")}`;

  const probes: Probe[] = [];
  const run = async (rate: number) => {
    rate = Math.round(rate);
    say(`probe ${probes.length + 1}: ${rate}/s for ${durationMs / 1000} s ...`);
    const p = await probe(rate, durationMs, p99, passthrough);
    probes.push(p);
    say(`  ${p.pass ? "PASS" : "FAIL"} ${rate}/s: ${p.why}; p99 ${p.p99_ms} ms, offered ${p.offered_per_s}/s, ${p.cpu_s_per_million} CPU s per million, load ${JSON.stringify(p.load_avg)}, worker RSS ${JSON.stringify(p.rss_trend ?? null)}`);
    return p.pass;
  };
  let pass = 0;
  let fail = Infinity;
  // Grow until the first failure (or the ceiling), then bisect.
  for (let rate = from; probes.length < maxProbes; rate = Math.min(to, rate * growth)) {
    if (await run(rate)) pass = rate;
    else {
      fail = rate;
      break;
    }
    if (rate >= to) break;
  }
  while (fail !== Infinity && pass > 0 && (fail - pass) / pass >= resolution && probes.length < maxProbes) {
    const mid = (pass + fail) / 2;
    if (await run(mid)) pass = Math.round(mid);
    else fail = Math.round(mid);
  }
  const best = probes.filter((p) => p.pass).sort((a, b) => b.rate - a.rate)[0] ?? null;
  const reproduce = best ? `bun dev/bench/e2e.ts --rate ${best.rate} --duration ${Math.round(durationMs / 1000)}s ${passthrough.join(" ")}`.trim() : null;
  say("");
  say(`probes: ${probes.map((p) => `${p.rate}/s ${p.pass ? "pass" : "fail"}`).join(", ")}`);
  if (best) {
    say(`max sustained: ${best.rate.toLocaleString("en-US")} events/s = ${(best.rate * 60).toLocaleString("en-US")} events/min for ${durationMs / 1000} s (p99 ${best.p99_ms} ms <= ${p99} ms, exact)` + (fail === Infinity ? ` (no failure up to --to ${to}/s)` : `; ${Math.round(fail)}/s failed`));
    say(`reproduce: ${reproduce}`);
  } else say(`no probe passed (lowest tried ${Math.min(...probes.map((p) => p.rate))}/s): lower --from`);
  say(`command: ${command}`);
  if (json)
    console.log(
      JSON.stringify({
        max_sustained_per_s: best?.rate ?? null,
        max_sustained_per_min: best ? best.rate * 60 : null,
        duration_ms: durationMs,
        p99_bound_ms: p99,
        first_failure_per_s: fail === Infinity ? null : Math.round(fail),
        probes,
        command,
        reproduce,
      }),
    );
  return best ? 0 : 1;
}

// Only when run as a command: the docs generator imports this file for USAGE.
if (import.meta.main) runCli(main);
