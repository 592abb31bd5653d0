/**
 * RedisBloom (`BF.*`, built into Redis 8 and Redis Stack): the server hashes the keys itself.
 * `BF.INSERT key CAPACITY n ERROR p ITEMS …` creates the window's filter on first use with the configured size
 * (BF.RESERVE + BF.MADD in one atomic command, so concurrent workers never race to create it) and answers
 * 1 per newly added item; `BF.MEXISTS` asks the previous window (a missing key answers 0s).
 * Keys end in ":bf" instead of a shard number so they never collide with bitmap keys of the same prefix.
 */
import type Redis from "ioredis";
import { DedupeError } from "../../errors/index.ts";
import { bloomLayout, estimatedFpRate } from "./bloom-math.ts";
import { groupByFilter, type BloomBackend, type FilterGroup, type FilterRequest, type FilterStats } from "./backend.ts";
import type { Limiter } from "./limiter.ts";
import { redisError } from "./redis-connection.ts";
import { filterKey, windowTtlMs } from "./windows.ts";

/** What the BF.* backend needs besides the connection. */
export interface BloomBackendOptions {
  prefix: string;
  capacity: number;
  errorRate: number;
  windowMs: number;
  ttlMarginMs: number;
  chunkKeys: number;
  limiter: Limiter;
}

/** RedisBloom filter per window and scope. Does not own the connection. */
export class RedisBloomBackend implements BloomBackend {
  readonly kind = "bloom" as const;

  constructor(
    private readonly redis: Redis,
    private readonly o: BloomBackendOptions,
  ) {}

  async testAndSet(req: FilterRequest): Promise<Uint8Array> {
    const out = new Uint8Array(req.keys.length);
    const ttlMs = windowTtlMs(req.window, this.o.windowMs, req.nowMs, this.o.ttlMarginMs);
    try {
      // Shards are a bitmap notion: every group of a scope maps to the scope's single BF key.
      await Promise.all(groupByFilter(req).flatMap((g) => this.group(req, g, ttlMs, out)));
    } catch (err) {
      throw redisError(err, "BF.INSERT", this.redis);
    }
    return out;
  }

  private group(req: FilterRequest, g: FilterGroup, ttlMs: number, out: Uint8Array): Array<Promise<void>> {
    const cur = filterKey(this.o.prefix, g.scope, req.window, "bf");
    const prev = filterKey(this.o.prefix, g.scope, req.window - 1, "bf");
    const { capacity, errorRate, chunkKeys, limiter } = this.o;
    const sent: Array<Promise<void>> = [];
    for (let from = 0; from < g.positions.length; from += chunkKeys) {
      const items = g.positions.slice(from, from + chunkKeys).map((j) => req.keys[j]);
      const positions = g.positions.slice(from, from + chunkKeys);
      const first = from === 0;
      sent.push(
        limiter.run(async () => {
          const [added, existed] = await Promise.all([
            this.redis.call("BF.INSERT", cur, "CAPACITY", String(capacity), "ERROR", String(errorRate), "ITEMS", ...items),
            this.redis.call("BF.MEXISTS", prev, ...items),
            first ? this.redis.pexpire(cur, ttlMs) : null,
          ]);
          const a = intArray(added, items.length, "BF.INSERT");
          const e = intArray(existed, items.length, "BF.MEXISTS");
          // BF.INSERT answers 0 for an item that may have been there already.
          for (let i = 0; i < positions.length; i++) if (a[i] === 0 || e[i] === 1) out[positions[i]] = 1;
        }),
      );
    }
    return sent;
  }

  async stats(window: number, scopes: readonly string[]): Promise<FilterStats> {
    let filters = 0;
    let maxFill = 0;
    let worstFp = 0;
    for (const scope of scopes) {
      let info: unknown;
      try {
        info = await this.redis.call("BF.INFO", filterKey(this.o.prefix, scope, window, "bf"));
      } catch (err) {
        // A filter not created yet in this window has nothing to report.
        if (err instanceof Error && /not found|no such key/i.test(err.message)) continue;
        throw redisError(err, "BF.INFO", this.redis);
      }
      const f = parseInfo(info);
      filters++;
      // Fill of the optimally sized bitmap RedisBloom allocated for `capacity` (k and m as bloom-math sizes them).
      const layout = bloomLayout(f.capacity, this.o.errorRate);
      const bits = layout.bitsPerShard * layout.shards;
      const fill = 1 - Math.exp((-layout.k * f.items) / bits);
      if (fill > maxFill) {
        maxFill = fill;
        worstFp = estimatedFpRate(fill * bits, bits, layout.k);
      }
    }
    return { filters, maxFillRatio: maxFill, estimatedFpRate: worstFp };
  }

  async ping(): Promise<void> {
    try {
      await this.redis.ping();
    } catch (err) {
      throw redisError(err, "PING", this.redis);
    }
  }

  async close(): Promise<void> {}
}

/** Checks that a reply is an array of `n` integers. */
function intArray(reply: unknown, n: number, op: string): number[] {
  if (!Array.isArray(reply) || reply.length !== n) {
    throw new DedupeError("DEDUPE_REDIS_COMMAND", `${op} replied ${Array.isArray(reply) ? `${reply.length} values` : typeof reply}, expected ${n}`, {
      retriable: false,
    });
  }
  return reply as number[];
}

/** Reads Capacity and "Number of items inserted" from a BF.INFO reply (name/value pairs). */
function parseInfo(info: unknown): { capacity: number; items: number } {
  const pairs = Array.isArray(info) ? info : [];
  const get = (name: string): number => {
    const i = pairs.findIndex((v) => String(v).toLowerCase() === name);
    return i >= 0 ? Number(pairs[i + 1]) : NaN;
  };
  const capacity = get("capacity");
  const items = get("number of items inserted");
  if (!(capacity > 0) || !(items >= 0)) {
    throw new DedupeError("DEDUPE_REDIS_COMMAND", "BF.INFO reply lacks Capacity / Number of items inserted", { retriable: false });
  }
  return { capacity, items };
}
