/** Fixtures of the limit stage tests: configs, batches with given tenants, a started stage on real Redis. */
import Redis from "ioredis";
import { createLimitStage, type LimitStage, type LimitStageOptions } from "../../../shared/stages/limit/index.ts";
import { Batch, type EnrichedEvents } from "../../../shared/stages/batch.ts";
import { packRecords } from "../../../shared/stages/records.ts";
import { createLogger } from "../../../shared/telemetry/logger.ts";
import { Metrics } from "../../../shared/telemetry/metrics.ts";
import type { LimitStageConfig, TenantLimit } from "../../../shared/topology/types.ts";
import { REDIS_URL, uniqueName } from "../../support/services.ts";
import { resolvedTopology } from "../../support/topology.ts";

/** A tenant limit of `events` per second with the given burst and quota. */
export const perSecond = (events: number, burst = events, quota: number | null = null, quotaWindowMs = 86_400_000): TenantLimit => ({
  events,
  perMs: 1_000,
  burst,
  quota,
  quotaWindowMs,
});

/** A limit stage config on the test Redis with a fresh prefix. */
export function limitConfig(o: Partial<LimitStageConfig> = {}): LimitStageConfig {
  return {
    kind: "limit",
    name: "limit",
    redisUrl: REDIS_URL,
    prefix: uniqueName("tf:limit-test"),
    defaultLimit: perSecond(10),
    tenants: {},
    tenantsFile: null, tenantsQuery: null,
    onLimit: "dead-letter",
    maxDelayMs: 1_000,
    maxHeldEvents: 100_000,
    maxHeldBatches: 64,
    onRedisDown: "fail",
    metricsTopTenants: 2,
    ...o,
  };
}

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
  await stage.start({ topology: resolvedTopology([cfg]), workerId: 0, logger: createLogger({ level: "error" }), metrics, dataDir: "/tmp", stages: [stage] });
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
