/** The StageContext a stage gets from the engine, built for a stage under test or bench (dev/support kit). */
import { needsOf } from "../../shared/stages/registry.ts";
import type { Stage, StageContext } from "../../shared/stages/stage.ts";
import { createLogger } from "../../shared/telemetry/logger.ts";
import { Metrics } from "../../shared/telemetry/metrics.ts";
import type { ResolvedTopology, StageConfig } from "../../shared/topology/types.ts";
import { resolvedTopology } from "./topology.ts";

/** What a test sets of the context; everything has a default. */
export interface StageContextOptions {
  /** The started stages in pipeline order (a stage may look up its neighbours, e.g. dedupe its IdentityStore). */
  stages?: Stage[];
  /** The configs the topology holds, when `topology` is not given. */
  configs?: StageConfig[];
  topology?: ResolvedTopology;
  dataDir?: string;
  metrics?: Metrics;
}

/** Quiet unless TOPOFLEET_LOG_LEVEL asks otherwise (test/setup.ts defaults it to warn). */
export const testLogger = createLogger({ level: process.env.TOPOFLEET_LOG_LEVEL ?? "warn", component: "stage-under-test" });

/** A StageContext for worker 0 around `opts`. */
export function stageContext(opts: StageContextOptions = {}): StageContext {
  return {
    topology: opts.topology ?? resolvedTopology(opts.configs ?? []),
    workerId: 0,
    logger: testLogger,
    metrics: opts.metrics ?? new Metrics(),
    dataDir: opts.dataDir ?? "/tmp",
    stages: opts.stages ?? [],
    needsOf,
  };
}
