/**
 * The stage factory: turns the topology's ordered `stages` list into Stage objects (not started yet; the
 * engine starts them with a StageContext and closes them on shutdown).
 *
 * The built-in stages are imported lazily so that a pipeline only loads the dependencies it uses
 * (a pipeline without dedupe never loads ioredis, one without persist never loads the postgres driver).
 */
import type { ResolvedTopology, StageConfig } from "../topology/types.ts";
import type { Stage } from "./stage.ts";
import { loadCustomStage } from "./custom/load.ts";

/** Builds one stage from its config. */
export async function createStage(cfg: StageConfig): Promise<Stage> {
  switch (cfg.kind) {
    case "enrich":
      return (await import("./enrich/index.ts")).createEnrichStage(cfg);
    case "dedupe":
      return (await import("./dedupe/index.ts")).createDedupeStage(cfg);
    case "limit":
      return (await import("./limit/index.ts")).createLimitStage(cfg);
    case "persist":
      return (await import("./persist/index.ts")).createPersistStage(cfg);
    case "custom":
      return loadCustomStage(cfg);
  }
}

/** Builds every stage of the topology, in pipeline order. */
export async function createStages(topology: ResolvedTopology): Promise<Stage[]> {
  const stages: Stage[] = [];
  for (const cfg of topology.stages) stages.push(await createStage(cfg));
  return stages;
}
