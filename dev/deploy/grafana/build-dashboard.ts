// Regenerates the provisioned Grafana dashboard from shared/deploy/dashboard.ts.
// Usage: bun dev/deploy/grafana/build-dashboard.ts
import { buildDashboard } from "../../../shared/deploy/dashboard.ts";

const out = new URL("./dashboards/topofleet.json", import.meta.url).pathname;
await Bun.write(out, JSON.stringify(buildDashboard(), null, 2) + "\n");
console.log(`wrote ${out}`);
