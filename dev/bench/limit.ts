/**
 * Limit stage benchmark: events/s through `LimitStage.process` on real Redis (REDIS_URL), one script call per
 * batch, for batches spread over 3, 100 and 1000 tenants (the script does 2-3 commands per tenant of a batch, so
 * its cost grows with the tenants per batch, not with the events). Limits are set high, so every event is admitted
 * and the figures are the stage's own cost; `us_per_batch` is what a limit adds to each batch's latency.
 *
 *   bun dev/bench/limit.ts [--batches N] [--batch B] [--json]
 *
 * With --json, one JSON line: {"batch":B,"results":[{"tenants":…,"events_per_s":…,"us_per_batch":…,"redis_calls_per_batch":1},…]}.
 */
import { EventStatus } from "../../shared/stages/batch.ts";
import { M } from "../../shared/telemetry/names.ts";
import { batchOf, dropPrefix, startedStage } from "../support/limit-stage.ts";
import { limitConfig, perSecond } from "../support/stage-configs.ts";
import { JSON_OUTPUT as json, numberFlag, progress as log } from "./flags.ts";

const batches = numberFlag("batches", 400);
const batchSize = numberFlag("batch", 5_000);

log(`limit bench: ${batches} batches of ${batchSize} events per tenant count, real Redis, every event admitted`);
const results = [];
for (const tenants of [3, 100, 1000]) {
  const cfg = limitConfig({ defaultLimit: perSecond(1e9, 1e9) });
  const { stage, metrics } = await startedStage(cfg);
  const tenantOf = Array.from({ length: batchSize }, (_, i) => `tenant-${i % tenants}`);
  try {
    for (let i = 0; i < 20; i++) await stage.process(batchOf(tenantOf));
    // Batches are built before the clock starts: only the stage is measured.
    const pre = Array.from({ length: batches }, () => batchOf(tenantOf));
    const t0 = performance.now();
    for (const b of pre) {
      await stage.process(b);
      if (b.count(EventStatus.Live) !== batchSize) throw new Error("an event was not admitted: the bench limits are too low");
    }
    const secs = (performance.now() - t0) / 1000;
    const calls = metrics.total(M.limitRedisCalls) / (batches + 20);
    const r = { tenants, events_per_s: (batches * batchSize) / secs, us_per_batch: (secs * 1e6) / batches, redis_calls_per_batch: calls };
    results.push(r);
    log(`  ${String(tenants).padStart(4)} tenants/batch  ${(r.events_per_s / 1000).toFixed(0).padStart(6)}k events/s  ${r.us_per_batch.toFixed(0).padStart(6)} us/batch  ${calls} Redis call(s)/batch`);
  } finally {
    await stage.close();
    await dropPrefix(cfg.prefix);
  }
}
if (json) console.log(JSON.stringify({ batch: batchSize, results }));
