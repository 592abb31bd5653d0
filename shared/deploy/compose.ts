/** The worker service block for an existing docker compose project. */
import { basename } from "node:path";
import { stringify } from "yaml";
import type { ResolvedTopology } from "../topology/types.ts";
import { deploymentName, scalingBounds, stopTimeoutSeconds } from "./scaling.ts";
import { referencedEnvVars, topologyText } from "./env-vars.ts";

/** Renders `<name>.compose.yaml` with one `services:` entry; env vars pass through by name, never by value. */
export function renderCompose(t: ResolvedTopology, opts: { image?: string; partitions?: number } = {}): Map<string, string> {
  const name = deploymentName(t);
  const file = basename(t.file);
  const bounds = scalingBounds(t, opts.partitions);
  const service = {
    image: opts.image ?? "topofleet:latest",
    command: [`/etc/topofleet/${file}`],
    volumes: [`./${file}:/etc/topofleet/${file}:ro`, `${name}-data:/var/lib/topofleet`],
    // Names only: compose takes the values from the caller's environment or .env file.
    environment: [...referencedEnvVars(topologyText(t.file)), "TOPOFLEET_DATA_DIR=/var/lib/topofleet"],
    expose: [String(t.http.port)],
    restart: "unless-stopped",
    stop_signal: "SIGTERM",
    stop_grace_period: `${stopTimeoutSeconds(t)}s`,
    deploy: { replicas: bounds.min },
    healthcheck: {
      test: ["CMD", "bun", "-e", `fetch('http://127.0.0.1:${t.http.port}/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`],
      interval: "10s",
      timeout: "3s",
      retries: 3,
      start_period: "20s",
    },
  };
  return new Map([[`${name}.compose.yaml`, stringify({ services: { [name]: service }, volumes: { [`${name}-data`]: {} } })]]);
}
