/** docs/reference/metrics.md: every metric from the catalog in shared/telemetry/names.ts. */
import { METRICS } from "../../shared/telemetry/names.ts";
import { code, page, table } from "./markdown.ts";

const label = (l: string) => {
  const [name, values] = l.split(": ");
  return values ? `${code(name)} (${values.split("|").map(code).join(", ")})` : code(name);
};

/** The page text. */
export function metricsPage(): string {
  const rows = Object.values(METRICS).map((m) => [code(m.name), m.type, m.labels.map(label).join(", "), m.help]);
  return page("Metrics", ["shared/telemetry/names.ts"], [
    "Served as Prometheus text 0.0.4 on `/metrics` (default port 9464). The supervisor aggregates every worker: counters and " +
      "histograms are summed over the fleet (and stay monotonic when a worker restarts or is scaled away), gauges carry a " +
      "`worker` label. The engine records the per-stage series (`stage` label) for every stage, custom ones included. " +
      "Which ones to watch and alert on: [operations.md](../operations.md#metrics).",
    table(["metric", "type", "labels", "meaning"], rows),
  ]);
}
