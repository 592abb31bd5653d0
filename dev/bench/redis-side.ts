/**
 * The Redis side of a bench run: the server's CPU (INFO cpu, main thread and children, user + sys) before and
 * after, and which dedupe filter the fleet used (RedisBloom keys end in `:bf`, see shared/stages/dedupe).
 * The CPU figure is the whole server's: exact on a Redis of one's own, others' work included on a shared one.
 */
import Redis from "ioredis";

/** Runs `fn` with a short-lived connection to `url`. */
async function withRedis<T>(url: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

/** CPU seconds the Redis server has used since it started (user + sys of the server process). */
export function redisCpuSeconds(url: string): Promise<number> {
  return withRedis(url, async (r) => {
    const info = await r.info("cpu");
    const field = (name: string) => Number(info.match(new RegExp(`^${name}:([\\d.]+)`, "m"))?.[1] ?? NaN);
    return field("used_cpu_user") + field("used_cpu_sys");
  });
}

/** Whether the server has the RedisBloom commands (what the stage's "auto" mode checks). */
export function redisHasBloom(url: string): Promise<boolean> {
  return withRedis(url, async (r) => {
    const info = (await r.call("COMMAND", "INFO", "BF.INSERT")) as unknown[];
    return Array.isArray(info) && info[0] != null;
  });
}

/** "bloom" when a key under `prefix` is a RedisBloom filter, "bitmap" when keys exist but none is, null with no keys. */
export function dedupeFilterUsed(url: string, prefix: string): Promise<"bloom" | "bitmap" | null> {
  return withRedis(url, async (r) => {
    let cursor = "0";
    let seen = false;
    do {
      const [next, keys] = await r.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.some((k) => k.endsWith(":bf"))) return "bloom";
      seen ||= keys.length > 0;
    } while (cursor !== "0");
    return seen ? "bitmap" : null;
  });
}
