/** Removes a benchmark's or test's Redis keys (its Bloom filters) by prefix. */
import Redis from "ioredis";

/** Deletes every Redis key under `prefix` with SCAN + UNLINK; resolves with the number deleted. */
export async function deleteRedisPrefix(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let n = 0;
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length) n += await redis.unlink(...keys);
    } while (cursor !== "0");
    return n;
  } finally {
    redis.disconnect();
  }
}
