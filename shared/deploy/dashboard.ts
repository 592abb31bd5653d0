/**
 * The Grafana dashboard, built from the metric-name constants so the dashboard can never query a series
 * the code doesn't export. `bun dev/deploy/grafana/build-dashboard.ts` writes it; a test checks it is current.
 */
import { M } from "../telemetry/names.ts";

interface Panel {
  title: string;
  exprs: Array<[expr: string, legend: string]>;
  unit?: string;
}

const PANELS: Panel[] = [
  { title: "Throughput per stage (events/s)", exprs: [[`sum by (stage) (rate(${M.eventsIn}[1m]))`, "{{stage}}"]], unit: "ops" },
  { title: "Outcomes (events/s)", exprs: [[`sum by (outcome) (rate(${M.eventsOut}[1m]))`, "{{outcome}}"]], unit: "ops" },
  { title: "Consumer lag per partition", exprs: [[`max by (topic, partition) (${M.consumerLag})`, "{{topic}}/{{partition}}"]], unit: "short" },
  {
    title: "Batch latency p50 / p99 per stage",
    exprs: [
      [`histogram_quantile(0.5, sum by (le, stage) (rate(${M.batchSeconds}_bucket[5m])))`, "p50 {{stage}}"],
      [`histogram_quantile(0.99, sum by (le, stage) (rate(${M.batchSeconds}_bucket[5m])))`, "p99 {{stage}}"],
    ],
    unit: "s",
  },
  {
    title: "Dedupe ratios",
    exprs: [
      [`sum(rate(${M.dedupeDropped}[5m])) / clamp_min(sum(rate(${M.eventsIn}{stage="dedupe"}[5m])), 1)`, "duplicate share"],
      [`sum(rate(${M.dedupeMaybeSeen}[5m])) / clamp_min(sum(rate(${M.eventsIn}{stage="dedupe"}[5m])), 1)`, "maybe-seen share"],
      [`max(${M.dedupeFillRatio})`, "filter fill"],
      [`max(${M.dedupeFpRate})`, "estimated FP rate"],
    ],
    unit: "percentunit",
  },
  { title: "Dead-letter rate (events/s)", exprs: [[`sum by (stage, code) (rate(${M.deadLettered}[5m]))`, "{{stage}} {{code}}"]], unit: "ops" },
  { title: "Stage retries", exprs: [[`sum by (stage, code) (increase(${M.stageRetries}[5m]))`, "{{stage}} {{code}}"]], unit: "short" },
  {
    title: "Workers and restarts",
    exprs: [
      [`sum(${M.workers})`, "workers"],
      [`sum(${M.desiredReplicas})`, "desired"],
      [`sum(increase(${M.workerRestarts}[15m]))`, "restarts (15m)"],
    ],
    unit: "short",
  },
  { title: "Persist rows/s by outcome", exprs: [[`sum by (outcome) (rate(${M.persistRows}[1m]))`, "{{outcome}}"]], unit: "ops" },
  { title: "Paused partitions (backpressure)", exprs: [[`sum(${M.partitionsPaused})`, "paused"]], unit: "short" },
];

/** The dashboard JSON model (Grafana schema 39). */
export function buildDashboard(): Record<string, unknown> {
  return {
    uid: "topofleet",
    title: "topofleet",
    tags: ["topofleet", "kafka", "postgres"],
    timezone: "browser",
    schemaVersion: 39,
    refresh: "10s",
    time: { from: "now-1h", to: "now" },
    panels: PANELS.map((p, i) => ({
      id: i + 1,
      type: "timeseries",
      title: p.title,
      datasource: { type: "prometheus", uid: "prometheus" },
      gridPos: { x: (i % 2) * 12, y: Math.floor(i / 2) * 8, w: 12, h: 8 },
      fieldConfig: { defaults: { unit: p.unit ?? "short" }, overrides: [] },
      targets: p.exprs.map(([expr, legendFormat], j) => ({ refId: String.fromCharCode(65 + j), expr, legendFormat })),
    })),
  };
}
