/**
 * Topofleet's small telemetry interface. Stages and the engine record through it; the Prometheus text
 * renderer is one adapter (an OpenTelemetry exporter would be another). Metric names are constants in
 * ./names.ts so dashboards, alerts and tests agree on them.
 *
 * Snapshots are plain JSON so a worker can ship them to the supervisor over IPC, where they are merged
 * (counters and histograms summed, gauges kept per worker via the `worker` label).
 */

import { metricSpec } from "./names.ts";

export type Labels = Record<string, string | number>;
type MetricType = "counter" | "gauge" | "histogram";

interface Series {
  labels: Labels;
  value: number; // counter / gauge
  buckets?: number[]; // histogram: cumulative counts per bound
  sum?: number;
  count?: number;
}

/** A metric family as shipped between processes. */
export interface FamilySnapshot {
  name: string;
  help: string;
  type: MetricType;
  bounds?: number[];
  series: Series[];
}

const keyOf = (labels: Labels): string => {
  const ks = Object.keys(labels);
  if (ks.length === 0) return "";
  ks.sort();
  let s = "";
  for (const k of ks) s += `${k}=${labels[k]},`;
  return s;
};

class Family {
  readonly series = new Map<string, Series>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    readonly bounds?: number[],
  ) {}
  get(labels: Labels): Series {
    const k = keyOf(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { labels: { ...labels }, value: 0 };
      if (this.bounds) {
        s.buckets = new Array(this.bounds.length).fill(0);
        s.sum = 0;
        s.count = 0;
      }
      this.series.set(k, s);
    }
    return s;
  }
}

/** A monotonically increasing count. */
export interface Counter {
  inc(labels?: Labels, n?: number): void;
}
/** A value that goes up and down. */
export interface Gauge {
  set(labels: Labels, v: number): void;
}
/** A distribution over fixed bucket bounds. */
export interface Histogram {
  observe(labels: Labels, v: number): void;
}

/** Default latency buckets in seconds, from 1 ms to 30 s. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The help text of a new family: the catalog's (./names.ts) for our metrics, which must be registered with the
 * catalog's type; `help` is only for names outside it.
 */
function helpFor(name: string, type: MetricType, help: string | undefined): string {
  const spec = metricSpec(name);
  if (spec && spec.type !== type) throw new TypeError(`metric ${name} is a ${spec.type} in shared/telemetry/names.ts, registered as ${type}`);
  const text = spec?.help ?? help;
  if (text === undefined) throw new TypeError(`metric ${name} has no help text: add it to shared/telemetry/names.ts`);
  return text;
}

/** A registry of metric families. */
export class Metrics {
  private readonly families = new Map<string, Family>();

  private family(name: string, help: string | undefined, type: MetricType, bounds?: number[]): Family {
    let f = this.families.get(name);
    if (!f) {
      f = new Family(name, helpFor(name, type, help), type, bounds);
      this.families.set(name, f);
    } else if (f.type !== type) {
      throw new TypeError(`metric ${name} registered as ${f.type}, requested as ${type}`);
    }
    return f;
  }

  /** Returns (registering on first use) a counter family. */
  counter(name: string, help?: string): Counter {
    const f = this.family(name, help, "counter");
    return { inc: (labels = {}, n = 1) => void (f.get(labels).value += n) };
  }

  /** Returns (registering on first use) a gauge family. */
  gauge(name: string, help?: string): Gauge {
    const f = this.family(name, help, "gauge");
    return { set: (labels, v) => void (f.get(labels).value = v) };
  }

  /** Returns (registering on first use) a histogram family with the given upper bounds. */
  histogram(name: string, help?: string, bounds: number[] = LATENCY_BUCKETS): Histogram {
    const f = this.family(name, help, "histogram", bounds);
    return {
      observe: (labels, v) => {
        const s = f.get(labels);
        const b = f.bounds!;
        for (let i = 0; i < b.length; i++) if (v <= b[i]) s.buckets![i]++;
        s.sum! += v;
        s.count!++;
      },
    };
  }

  /** Current value of a counter or gauge series (0 when absent); for tests and summaries. */
  value(name: string, labels: Labels = {}): number {
    return this.families.get(name)?.series.get(keyOf(labels))?.value ?? 0;
  }

  /** Sum of a counter or gauge over all series whose labels include `match`. */
  total(name: string, match: Labels = {}): number {
    const f = this.families.get(name);
    if (!f) return 0;
    let t = 0;
    for (const s of f.series.values()) {
      if (Object.entries(match).every(([k, v]) => String(s.labels[k]) === String(v))) t += s.value;
    }
    return t;
  }

  /** A JSON-safe copy of every family, for IPC. */
  snapshot(): FamilySnapshot[] {
    return [...this.families.values()].map((f) => ({
      name: f.name,
      help: f.help,
      type: f.type,
      bounds: f.bounds,
      series: [...f.series.values()].map((s) => ({ ...s, labels: { ...s.labels }, buckets: s.buckets?.slice() })),
    }));
  }

  /** Adds a snapshot into this registry: counters and histograms are summed, gauges overwritten. */
  merge(snap: readonly FamilySnapshot[], extraLabels: Labels = {}): void {
    for (const fs of snap) {
      const f = this.family(fs.name, fs.help, fs.type, fs.bounds);
      for (const s of fs.series) {
        const target = f.get({ ...s.labels, ...extraLabels });
        if (fs.type === "gauge") target.value = s.value;
        else target.value += s.value;
        if (s.buckets && target.buckets) {
          for (let i = 0; i < s.buckets.length; i++) target.buckets[i] += s.buckets[i];
          target.sum! += s.sum ?? 0;
          target.count! += s.count ?? 0;
        }
      }
    }
  }

  /** Renders every family in the Prometheus text exposition format (version 0.0.4). */
  renderPrometheus(): string {
    const out: string[] = [];
    for (const f of this.families.values()) {
      out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
      for (const s of f.series.values()) {
        if (f.type === "histogram") {
          const b = f.bounds!;
          for (let i = 0; i < b.length; i++) out.push(`${f.name}_bucket${fmt({ ...s.labels, le: b[i] })} ${s.buckets![i]}`);
          out.push(`${f.name}_bucket${fmt({ ...s.labels, le: "+Inf" })} ${s.count}`);
          out.push(`${f.name}_sum${fmt(s.labels)} ${s.sum}`, `${f.name}_count${fmt(s.labels)} ${s.count}`);
        } else out.push(`${f.name}${fmt(s.labels)} ${s.value}`);
      }
    }
    return out.join("\n") + "\n";
  }
}

const escapeLabel = (v: string): string => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
function fmt(labels: Labels): string {
  const ks = Object.keys(labels);
  if (ks.length === 0) return "";
  return `{${ks.map((k) => `${k}="${escapeLabel(String(labels[k]))}"`).join(",")}}`;
}
