/** Fixtures of the limit stage tests: configs, batches with given tenants, a started stage on real Redis. */
import Redis from "ioredis";
import { createLimitStage, type LimitStage, type LimitStageOptions } from "../../shared/stages/limit/index.ts";
import { Batch, type EnrichedEvents } from "../../shared/stages/batch.ts";
import { packRecords } from "../../shared/stages/records.ts";
import { Metrics } from "../../shared/telemetry/metrics.ts";
import type { LimitStageConfig } from "../../shared/topology/types.ts";
import { REDIS_URL } from "./services.ts";
import { stageContext } from "./stage-context.ts";

/** A batch whose enriched events carry the given tenants (null: no tenant). */
export function batchOf(tenants: Array<string | null>): Batch {
  const batch = new Batch(packRecords(tenants.map((_, i) => ({ topic: "t", partition: 0, offset: i, value: `e${i}` }))));
  batch.events = { tenant: tenants } as unknown as EnrichedEvents;
  return batch;
}

/** A started limit stage and its metrics. */
export async function startedStage(cfg: LimitStageConfig, options: LimitStageOptions = {}): Promise<{ stage: LimitStage; metrics: Metrics }> {
  const metrics = new Metrics();
  const stage = createLimitStage(cfg, options);
  await stage.start(stageContext({ configs: [cfg], stages: [stage], metrics }));
  return { stage, metrics };
}

/** Deletes the keys under a test prefix. */
export async function dropPrefix(prefix: string): Promise<void> {
  const r = new Redis(REDIS_URL);
  try {
    const keys = await r.keys(`${prefix}:*`);
    if (keys.length) await r.del(...keys);
  } finally {
    r.disconnect();
  }
}
