/** Chooses and builds the filter backend a dedupe config asks for. */
import type Redis from "ioredis";
import type { DedupeStageConfig } from "./config.ts";
import { DedupeError } from "../../errors/index.ts";
import type { BloomBackend } from "./backend.ts";
import type { BloomLayout } from "./bloom-math.ts";
import { RedisBitmapBackend } from "./bitmap-backend.ts";
import { RedisBloomBackend } from "./bloom-backend.ts";
import type { Limiter } from "./limiter.ts";
import type { ResolvedDedupeOptions } from "./options.ts";
import { connectRedis, hasBloomCommands } from "./redis-connection.ts";
import { filterCapacity } from "./sizing.ts";

/**
 * Connects and picks the Redis filter: BF.* when `redisMode` is "bloom", or "auto" and the server has it;
 * the BITFIELD bitmap otherwise. Throws DEDUPE_REDIS_UNAVAILABLE (retriable) when Redis does not answer and
 * DEDUPE_CONFIG (fatal) when "bloom" is forced on a server without BF.*.
 */
export async function openRedisBackend(
  redis: Redis,
  cfg: DedupeStageConfig,
  layout: BloomLayout,
  o: ResolvedDedupeOptions,
  limiter: Limiter,
  onFull?: (keys: number) => void,
): Promise<BloomBackend> {
  await connectRedis(redis);
  const bloom = cfg.redisMode === "bitmap" ? false : await hasBloomCommands(redis);
  if (cfg.redisMode === "bloom" && !bloom) {
    throw new DedupeError("DEDUPE_CONFIG", `dedupe stage ${cfg.name}: redisMode is "bloom" but the Redis server has no BF.* commands`, {
      retriable: false,
      context: { stage: cfg.name },
    });
  }
  const common = { prefix: cfg.prefix, windowMs: cfg.windowMs, ttlMarginMs: o.ttlMarginMs, chunkKeys: o.chunkKeys, limiter };
  const backend = bloom
    ? new RedisBloomBackend(redis, {
        ...common,
        capacity: filterCapacity(cfg),
        errorRate: cfg.falsePositiveRate,
        growth: cfg.bloom,
        whenFull: cfg.onMaybeSeen === "verify" ? "maybe" : "new",
        onFull,
        connectTimeoutMs: o.connectTimeoutMs,
        commandTimeoutMs: o.commandTimeoutMs,
      })
    : new RedisBitmapBackend(redis, {
    ...common,
    layout,
    previousWindowMaxBytes: o.previousWindowMaxBytes,
    previousWindowSettleMs: o.previousWindowSettleMs,
        connectTimeoutMs: o.connectTimeoutMs,
        commandTimeoutMs: o.commandTimeoutMs,
      });
  // Both backends have a pipe of their own, which authenticates on its own: a refused AUTH shows here at start.
  try {
    await backend.ping();
  } catch (err) {
    await backend.close();
    throw err;
  }
  return backend;
}
