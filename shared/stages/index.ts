/**
 * The stage factory: turns the topology's ordered `stages` list into Stage objects (not started yet; the
 * engine starts them with a StageContext and closes them on shutdown).
 *
 * Each spec imports its stage lazily (see registry.ts), so a pipeline only loads the dependencies it uses
 * (a pipeline without dedupe never loads ioredis, one without persist never loads the postgres driver).
 */
import { specOf, type StageConfig } from "./registry.ts";
import type { Stage } from "./stage.ts";

/** Builds one stage from its config. */
export function createStage(cfg: StageConfig): Promise<Stage> {
  return specOf(cfg).create(cfg);
}

/** Builds every stage of a pipeline, in order. */
export async function createStages(topology: { stages: readonly StageConfig[] }): Promise<Stage[]> {
  const stages: Stage[] = [];
  for (const cfg of topology.stages) stages.push(await createStage(cfg));
  return stages;
}
