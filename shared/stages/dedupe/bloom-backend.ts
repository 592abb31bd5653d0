/**
 * RedisBloom (`BF.*`, built into Redis 8 and Redis Stack): the server hashes the keys itself.
 *
 * One Lua script per chunk of keys (atomic, one round trip), called on a RespPipe of its own with the items
 * written as bytes (resp-bloom.ts) and the reply read into bit arrays (resp-reader.ts): it checks how many items the window's filter
 * already holds (`BF.CARD`), and while that stays within the growth bound it runs `BF.INSERT key CAPACITY n
 * ERROR p [EXPANSION e | NONSCALING] ITEMS …` (which creates the filter on first use, so concurrent workers
 * never race to create it, and answers 1 per newly added item); past the bound it only asks (`BF.MEXISTS`)
 * and adds nothing, so memory stays bounded however many keys arrive. It also asks the previous window.
 *
 * Growth bound: RedisBloom scales a full filter by adding a sub-filter `expansion` times larger (with a
 * tighter error rate), without limit. `maxFilters` caps that at capacity x (1 + e + … + e^(maxFilters-1))
 * items; `nonScaling` keeps one sub-filter (the server then answers "non scaling filter is full" per item).
 * A key the filter can no longer record is answered "maybe seen" when the stage verifies in PostgreSQL
 * (exact, slower), and "new" when it drops maybe-seen events (so no real event is lost; a duplicate past
 * the bound then reaches PostgreSQL's unique key). Either way `onFull` is told.
 *
 * Every element of every reply is checked: an error inside a reply (a per-item error) is never read as an answer.
 * Keys end in ":bf" instead of a shard number so they never collide with bitmap keys of the same prefix.
 */
import { createHash } from "node:crypto";
import type Redis from "ioredis";
import { ReplyError } from "ioredis";
import { DedupeError } from "../../errors/index.ts";
import { bloomLayout, estimatedFpRate } from "./bloom-math.ts";
import type { BloomBackend, FilterRequest, FilterStats } from "./backend.ts";
import type { Limiter } from "./limiter.ts";
import { hasBloomCommands, isTransientReply, redisError } from "./redis-connection.ts";
import { encodeCommand } from "./resp-bitfield.ts";
import { encodeScriptCall, type ScriptRef } from "./resp-bloom.ts";
import { RespPipe } from "./resp-pipe.ts";
import type { RespReply } from "./resp-reader.ts";
import { filterKey, windowTtlMs } from "./windows.ts";

/** How a BF.* filter may grow past its capacity. */
export interface BloomGrowth {
  expansion: number;
  nonScaling: boolean;
  maxFilters: number;
}

/** What the BF.* backend needs besides the connection. */
export interface BloomBackendOptions {
  prefix: string;
  capacity: number;
  errorRate: number;
  growth: BloomGrowth;
  /** What a key the full filter cannot record is answered: "maybe" seen (verified downstream) or "new". */
  whenFull: "maybe" | "new";
  /** Told how many keys of a request could not be recorded because the filter is full. */
  onFull?: (keys: number) => void;
  windowMs: number;
  ttlMarginMs: number;
  chunkKeys: number;
  limiter: Limiter;
  /** Connect and command timeouts of the script pipe (default 2 s and 5 s, the stage's defaults). */
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
}

// KEYS: current, previous window. ARGV: max items, ttl ms (0: none), then the BF.INSERT options, "ITEMS", items.
// Returns {1 | 0 (bound reached: nothing added), per-item answers of BF.INSERT or BF.MEXISTS current, BF.MEXISTS previous}.
const SCRIPT = `
local maxItems = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local at = 3
while ARGV[at] ~= 'ITEMS' do at = at + 1 end
local items = {unpack(ARGV, at + 1)}
local prev = redis.call('BF.MEXISTS', KEYS[2], unpack(items))
if redis.call('BF.CARD', KEYS[1]) + #items > maxItems then
  return {0, redis.call('BF.MEXISTS', KEYS[1], unpack(items)), prev}
end
local added = redis.call('BF.INSERT', KEYS[1], unpack(ARGV, 3))
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return {1, added, prev}
`;
const SCRIPT_SHA = createHash("sha1").update(SCRIPT).digest("hex");

/** Items a filter may hold before it stops growing: capacity x (1 + e + … + e^(maxFilters-1)), or capacity when non-scaling. */
export function maxItemsOf(capacity: number, growth: BloomGrowth): number {
  if (growth.nonScaling) return capacity;
  let total = 0;
  for (let i = 0, c = capacity; i < growth.maxFilters; i++, c *= growth.expansion) total += c;
  return total;
}

/** RedisBloom filter per window and scope. Does not own the ioredis connection; owns its pipe. */
export class RedisBloomBackend implements BloomBackend {
  readonly kind = "bloom" as const;
  /** RedisBloom hashes the keys itself: the stage need not pack probes for it. */
  readonly needsProbes = false;
  private readonly insertOptions: string[];
  private readonly maxItems: string;
  private readonly pipe: RespPipe;
  private readonly bySha: ScriptRef = { command: "EVALSHA", script: SCRIPT_SHA };
  private readonly byBody: ScriptRef = { command: "EVAL", script: SCRIPT };

  constructor(
    private readonly redis: Redis,
    private readonly o: BloomBackendOptions,
  ) {
    const g = o.growth;
    this.insertOptions = ["CAPACITY", String(o.capacity), "ERROR", String(o.errorRate), ...(g.nonScaling ? ["NONSCALING"] : ["EXPANSION", String(g.expansion)])];
    this.maxItems = String(maxItemsOf(o.capacity, g));
    const timeouts = { connectTimeoutMs: o.connectTimeoutMs ?? 2_000, commandTimeoutMs: o.commandTimeoutMs ?? 5_000 };
    this.pipe = RespPipe.like(redis, timeouts);
    redis.on("ready", this.forgetModule);
  }

  /** Whether BF.* was found on the ioredis client's current connection (see ping). */
  private moduleSeen = false;
  private readonly forgetModule = (): void => {
    this.moduleSeen = false;
  };

  async testAndSet(req: FilterRequest): Promise<Uint8Array> {
    const out = new Uint8Array(req.keys.length);
    const ttlMs = windowTtlMs(req.window, this.o.windowMs, req.nowMs, this.o.ttlMarginMs);
    try {
      // One notion of "Redis is up" for the stage: while its fail-fast ioredis client (health, stats) is not
      // connected, the pipe fails at once like that client would.
      if (this.redis.status !== "ready" && !this.redis.options.enableOfflineQueue) throw new Error(`Connection is closed (client ${this.redis.status})`);
      // Shards are a bitmap notion: every key of a scope goes to the scope's single BF key.
      await Promise.all(groupByScope(req.scopes).flatMap(([scope, positions]) => this.group(req, scope, positions, ttlMs, out)));
    } catch (err) {
      throw redisError(err, "BF.INSERT", this.redis);
    }
    return out;
  }

  private group(req: FilterRequest, scope: string, positions: number[], ttlMs: number, out: Uint8Array): Array<Promise<void>> {
    const keys = [filterKey(this.o.prefix, scope, req.window, "bf"), filterKey(this.o.prefix, scope, req.window - 1, "bf")];
    const { chunkKeys, limiter } = this.o;
    const sent: Array<Promise<void>> = [];
    for (let from = 0; from < positions.length; from += chunkKeys) {
      const to = Math.min(positions.length, from + chunkKeys);
      const args = [this.maxItems, from === 0 ? String(ttlMs) : "0", ...this.insertOptions, "ITEMS"];
      sent.push(
        limiter.run(async () => {
          let reply = await this.pipe.send(encodeScriptCall(this.bySha, keys, args, req.keys, positions, from, to));
          // The server lost its script cache (restart, SCRIPT FLUSH, failover): send the body once, which caches it again.
          if (reply instanceof Error && reply.message.startsWith("NOSCRIPT")) {
            reply = await this.pipe.send(encodeScriptCall(this.byBody, keys, args, req.keys, positions, from, to));
          }
          if (reply instanceof Error) throw reply;
          this.answer(reply, positions, from, to, out);
        }),
      );
    }
    return sent;
  }

  /** Reads one chunk's reply (the keys at positions[from..to)) into `out`, checking every element. */
  private answer(reply: RespReply, positions: readonly number[], from: number, to: number, out: Uint8Array): void {
    if (!Array.isArray(reply) || reply.length !== 3) throw badReply("the BF.* script", reply, "3 values");
    const [inserted, current, previous] = reply;
    if (inserted !== 0 && inserted !== 1) throw badReply("the BF.* script", reply, "0 or 1 first");
    const n = to - from;
    const op = inserted === 1 ? "BF.INSERT" : "BF.MEXISTS";
    // The usual reply: two arrays of bits. Anything else (a per-item error) goes through the checking `answers`.
    const cur = current instanceof Uint8Array && current.length === n ? current : answers(current, n, op);
    const prev = previous instanceof Uint8Array && previous.length === n ? previous : answers(previous, n, "BF.MEXISTS");
    let full = 0;
    for (let i = 0; i < n; i++) {
      const c = cur[i];
      const seenBefore = prev[i] === 1 || (inserted === 1 ? c === 0 : c === 1);
      if (seenBefore) out[positions[from + i]] = 1;
      else if (inserted !== 1 || c === FULL) {
        // Not recorded: the filter reached its bound.
        full++;
        if (this.o.whenFull === "maybe") out[positions[from + i]] = 1;
      }
    }
    if (full > 0) this.o.onFull?.(full);
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
      const f = chainFalsePositives(parseInfo(info), this.o.capacity, this.o.errorRate);
      filters++;
      if (f.fpRate >= worstFp) {
        worstFp = f.fpRate;
        maxFill = f.fill;
      }
    }
    return { filters, maxFillRatio: maxFill, estimatedFpRate: worstFp };
  }

  /**
   * Resolves when Redis answers and still has the BF.* commands (a failover to a server without the module is
   * not healthy). The module is looked up once per connection of the ioredis client: a different server means
   * a new connection, and COMMAND INFO's reply is large (decoding it on every readiness report, once a second,
   * cost more main-thread CPU than the rest of the check).
   */
  async ping(): Promise<void> {
    let loaded = true;
    try {
      await this.redis.ping();
      // The pipe authenticates on its own: a refused AUTH shows here at start.
      const reply = await this.pipe.send(encodeCommand(["PING"]));
      if (reply instanceof Error) throw reply;
      if (!this.moduleSeen) {
        loaded = await hasBloomCommands(this.redis);
        this.moduleSeen = loaded;
      }
    } catch (err) {
      throw redisError(err, "PING", this.redis);
    }
    if (!loaded) {
      throw new DedupeError("DEDUPE_CONFIG", "the Redis server no longer has the BF.* commands (RedisBloom module not loaded)", { retriable: false });
    }
  }

  async close(): Promise<void> {
    this.redis.off("ready", this.forgetModule);
    this.pipe.close();
  }
}

/** Request positions per scope, in first-seen order (most batches have one scope: no map lookup while it does not change). */
function groupByScope(scopes: readonly string[]): Array<[string, number[]]> {
  const groups = new Map<string, number[]>();
  let lastScope: string | undefined;
  let last: number[] = [];
  for (let j = 0; j < scopes.length; j++) {
    const scope = scopes[j];
    if (scope !== lastScope) {
      let g = groups.get(scope);
      if (!g) groups.set(scope, (g = []));
      last = g;
      lastScope = scope;
    }
    last.push(j);
  }
  return [...groups];
}

/** Marks an item RedisBloom refused because a non-scaling filter is full. */
const FULL = -1;

function badReply(op: string, reply: unknown, expected: string): DedupeError {
  const got = Array.isArray(reply) ? `${reply.length} values` : reply instanceof Error ? `an error (${reply.message})` : typeof reply;
  return new DedupeError("DEDUPE_REDIS_COMMAND", `${op} replied ${got}, expected ${expected}`, { retriable: false });
}

/**
 * Checks that a reply holds `n` answers, each 0 or 1; "non scaling filter is full" becomes FULL. Any other error
 * inside the reply fails the batch (retriable when the server state is transient), never reads as "new".
 */
export function answers(reply: unknown, n: number, op: string): number[] {
  // The pipe's reader hands an array of only 0s and 1s over as bytes.
  if (reply instanceof Uint8Array) reply = Array.from(reply);
  if (!Array.isArray(reply) || reply.length !== n) throw badReply(op, reply, `${n} values`);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const v: unknown = reply[i];
    if (v === 0 || v === 1) out[i] = v;
    else if (v instanceof Error && /non scaling filter is full/i.test(v.message)) out[i] = FULL;
    else if (v instanceof Error) {
      throw new DedupeError("DEDUPE_REDIS_COMMAND", `${op} failed for item ${i}: ${v.message}`, {
        retriable: v instanceof ReplyError && isTransientReply(v.message),
        cause: v,
        context: { op },
      });
    } else throw badReply(op, reply, `0 or 1 for every item, got ${JSON.stringify(v)} at ${i}`);
  }
  return out;
}

/** The fields of a BF.INFO reply the gauges need. */
export interface BloomInfo {
  capacity: number;
  items: number;
  filters: number;
  expansion: number;
}

/** Reads a BF.INFO reply (name/value pairs); a reply without them is DEDUPE_REDIS_COMMAND. */
export function parseInfo(info: unknown): BloomInfo {
  const pairs = Array.isArray(info) ? info : [];
  const get = (name: string): number => {
    const i = pairs.findIndex((v) => typeof v === "string" && v.toLowerCase() === name);
    return i >= 0 && pairs[i + 1] !== null ? Number(pairs[i + 1]) : NaN;
  };
  const capacity = get("capacity");
  const items = get("number of items inserted");
  const filters = get("number of filters");
  if (!(capacity > 0) || !(items >= 0) || !(filters >= 1)) {
    throw new DedupeError("DEDUPE_REDIS_COMMAND", "BF.INFO reply lacks Capacity / Number of items inserted / Number of filters", { retriable: false });
  }
  // A non-scaling filter reports no expansion rate; it has one sub-filter anyway.
  const expansion = get("expansion rate");
  return { capacity, items, filters, expansion: expansion >= 1 ? expansion : 1 };
}

/**
 * False-positive rate of a whole RedisBloom chain, from BF.INFO: sub-filter i holds capacity x e^i items at
 * error x 0.5^i (RedisBloom tightens each new sub-filter by half); every sub-filter but the last is full. A
 * lookup is a false positive if any sub-filter answers one, so the rate is 1 - prod(1 - fp_i). `fill` is the
 * last (active) sub-filter's.
 */
export function chainFalsePositives(info: BloomInfo, capacity: number, errorRate: number): { fpRate: number; fill: number } {
  let left = info.items;
  let notFalse = 1;
  let fill = 0;
  for (let i = 0, c = capacity, p = errorRate; i < info.filters; i++, c *= info.expansion, p /= 2) {
    const n = i === info.filters - 1 ? left : Math.min(left, c);
    left -= n;
    const layout = bloomLayout(Math.max(1, Math.round(c)), p);
    const bits = layout.bitsPerShard * layout.shards;
    fill = 1 - Math.exp((-layout.k * n) / bits);
    notFalse *= 1 - estimatedFpRate(fill * bits, bits, layout.k);
  }
  return { fpRate: 1 - notFalse, fill };
}
