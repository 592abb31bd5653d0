import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_RETRY, TRACING_OFF } from "../../shared/topology/defaults.ts";
import type { ResolvedTopology, StageConfig } from "../../shared/topology/types.ts";

/** A minimal resolved topology around `stages` (mock source, small limits) for stage-level tests. */
export function resolvedTopology(stages: StageConfig[], overrides: Partial<ResolvedTopology> = {}): ResolvedTopology {
  return {
    file: "/tmp/test-topology.yaml",
    name: "stage-test",
    source: { kind: "mock", brokers: 1, partitions: 1, topics: ["events"], group: "g", start: "earliest", membership: { static: false, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 2_000 }, properties: {}, generator: null },
    stages,
    deadLetter: { topic: "events.dlq" },
    batch: { maxEvents: 5000, maxBytes: 8 << 20, maxWaitMs: 50 },
    concurrency: { replicas: { min: 1, max: 1, lagPerReplica: 100_000 }, inFlightBatches: 4 },
    http: { port: 0, host: "127.0.0.1" },
    log: { level: "warn" },
    shutdown: { deadlineMs: 5_000 },
    tracing: TRACING_OFF,
    retry: DEFAULT_RETRY,
    warnings: [],
    ...overrides,
  };
}

/** Writes a topology file into `dir` and returns its path. */
export function writeTopology(dir: string, yaml: string, name = "topology.yaml"): string {
  const file = join(dir, name);
  writeFileSync(file, yaml);
  return file;
}
