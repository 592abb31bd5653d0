// Bloom probes are hashed in the enrich threads only for a filter that reads them: the bitmap and memory
// filters do, RedisBloom hashes the keys itself. Real stages on real Redis servers (the module-enabled one
// from REDIS_BLOOM_URL for BF.*); duplicates are dropped the same way with or without probes.
import { afterAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { EventStatus, type Batch } from "../../../shared/stages/batch.ts";
import { createDedupeStage } from "../../../shared/stages/dedupe/index.ts";
import { createEnrichStage } from "../../../shared/stages/enrich/index.ts";
import type { Stage } from "../../../shared/stages/stage.ts";
import type { DedupeStageConfig, EnrichStageConfig } from "../../../shared/topology/types.ts";
import { stageContext } from "../../../dev/support/stage-context.ts";
import { describeIf, describeWith, REDIS_URL, uniqueName, type Requirement } from "../../../dev/support/services.ts";
import { batchOf, ce, structured, testTopology } from "./helpers.ts";

const bloomUrl = process.env.REDIS_BLOOM_URL ?? "";
const BLOOM: Requirement = { available: bloomUrl !== "", missing: "REDIS_BLOOM_URL is not set (a module-enabled Redis: see ../shared/redis/; .ci/run starts one)" };

const started: Stage[] = [];
const prefixes: Array<{ url: string; prefix: string }> = [];
afterAll(async () => {
  for (const s of started.reverse()) await s.close();
  for (const { url, prefix } of prefixes) {
    const redis = new Redis(url);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
});

/** Enrich then dedupe (onMaybeSeen: drop, so no store is needed), both started as the engine starts them. */
async function pipeline(dedupe: Partial<DedupeStageConfig>, stagesSeenByEnrich?: (stages: Stage[]) => Stage[]) {
  const topology = testTopology({ dedupe: { onMaybeSeen: "drop", ...dedupe }, persist: false });
  const enrich = createEnrichStage(topology.stages[0] as EnrichStageConfig);
  const dedupeStage = createDedupeStage(topology.stages[1] as DedupeStageConfig);
  const stages = [enrich, dedupeStage];
  const seen = stagesSeenByEnrich ? stagesSeenByEnrich(stages) : stages;
  await enrich.start(stageContext({ topology, stages: seen }));
  started.push(enrich);
  await dedupeStage.start(stageContext({ topology, stages }));
  started.push(dedupeStage);
  if (dedupe.backend === "redis") prefixes.push({ url: dedupe.redisUrl!, prefix: dedupe.prefix! });
  /** Runs a batch of events with these ids through both stages. */
  const run = async (ids: string[]): Promise<Batch> => {
    const b = batchOf(ids.map((id) => structured(ce({ id }))));
    await enrich.process(b);
    await dedupeStage.process(b);
    return b;
  };
  return { run };
}

const statuses = (b: Batch) => Array.from(b.status);
const L = EventStatus.Live;
const D = EventStatus.Duplicate;

/** The same two batches through a pipeline: in-batch and cross-batch duplicates dropped, new events kept. */
async function expectDuplicatesDropped(run: (ids: string[]) => Promise<Batch>, tag: string, probesPerKey: (n: number) => void) {
  const first = await run([`${tag}-a`, `${tag}-b`, `${tag}-a`]);
  expect(statuses(first)).toEqual([L, L, D]);
  probesPerKey(first.events!.probesPerKey);
  const second = await run([`${tag}-b`, `${tag}-c`]);
  expect(statuses(second)).toEqual([D, L]);
}

describe("probes for a filter that reads them", () => {
  test("the memory filter reads them: every event's probes are hashed in the threads", async () => {
    const { run } = await pipeline({ backend: "memory" });
    await expectDuplicatesDropped(run, "mem", (n) => expect(n).toBeGreaterThan(1));
  });
});

describeWith("redis", "probes and the Redis bitmap", () => {
  test("the bitmap filter reads them", async () => {
    const prefix = uniqueName("tf:probes-bitmap");
    const { run } = await pipeline({ backend: "redis", redisMode: "bitmap", redisUrl: REDIS_URL, prefix });
    await expectDuplicatesDropped(run, "bitmap", (n) => expect(n).toBeGreaterThan(1));
  });
});

describeIf(BLOOM, "probes and RedisBloom", () => {
  test("RedisBloom hashes the keys itself: no probes are built, and duplicates are still dropped", async () => {
    const prefix = uniqueName("tf:probes-bloom");
    const { run } = await pipeline({ backend: "redis", redisMode: "auto", redisUrl: bloomUrl, prefix });
    await expectDuplicatesDropped(run, "bloom", (n) => expect(n).toBe(0));
  });

  test("a stage that asked for probes and that enrich cannot ask (not among its stages) always gets them", async () => {
    const prefix = uniqueName("tf:probes-unseen");
    const { run } = await pipeline({ backend: "redis", redisMode: "auto", redisUrl: bloomUrl, prefix }, (stages) => stages.slice(0, 1));
    await expectDuplicatesDropped(run, "unseen", (n) => expect(n).toBeGreaterThan(1));
  });
});
