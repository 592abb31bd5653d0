/**
 * The portable Bloom filter on stock Redis: one bitmap (string) per window, scope and shard, written with
 * `BITFIELD key SET u1 <off> 1 …`, which sets the bits and returns the old ones atomically, so concurrent
 * workers agree: a key is "maybe seen" when all of its k old bits were 1. The previous window is read from a
 * local copy (prev-window.ts) or, over the memory budget, with `BITFIELD key GET u1 <off> …`.
 *
 * The BITFIELD commands and their PEXPIREs go through a RespPipe (a second connection with a reader that
 * writes the returned bits straight into arrays); the ioredis client serves everything else.
 */
import type Redis from "ioredis";
import { DedupeError } from "../../errors/index.ts";
import { estimatedFpRate, type BloomLayout } from "./bloom-math.ts";
import { groupByFilter, shardBytes, type BloomBackend, type FilterGroup, type FilterRequest, type FilterStats } from "./backend.ts";
import type { Limiter } from "./limiter.ts";
import { bitAt, PreviousWindowCache } from "./prev-window.ts";
import { redisError } from "./redis-connection.ts";
import { encodeBitfield, encodeCommand, type BitfieldOp } from "./resp-bitfield.ts";
import { RespPipe } from "./resp-pipe.ts";
import { filterKey, windowTtlMs } from "./windows.ts";

/** Default bytes per GETRANGE when copying a previous window's bitmap. */
const FETCH_PIECE_BYTES = 4 * 1024 * 1024;

/** What the bitmap backend needs besides the connection. */
export interface BitmapBackendOptions {
  prefix: string;
  layout: BloomLayout;
  windowMs: number;
  ttlMarginMs: number;
  chunkKeys: number;
  limiter: Limiter;
  previousWindowMaxBytes: number;
  previousWindowSettleMs: number;
  /** Bytes per GETRANGE when copying the previous window (default 4 MiB). */
  fetchPieceBytes?: number;
  /** Connect and command timeouts of the BITFIELD pipe (default 2 s and 5 s, the stage's defaults). */
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
}

/** Bitmap filter in Redis via BITFIELD. Does not own the connection. */
export class RedisBitmapBackend implements BloomBackend {
  readonly kind = "bitmap" as const;
  readonly needsProbes = true;
  private readonly previous: PreviousWindowCache;
  private readonly pipe: RespPipe;

  constructor(
    private readonly redis: Redis,
    private readonly o: BitmapBackendOptions,
  ) {
    this.pipe = RespPipe.like(redis, { connectTimeoutMs: o.connectTimeoutMs ?? 2_000, commandTimeoutMs: o.commandTimeoutMs ?? 5_000 });
    this.previous = new PreviousWindowCache((key) => this.fetchBitmap(key), {
      windowMs: o.windowMs,
      maxBytes: o.previousWindowMaxBytes,
      filterBytes: shardBytes(o.layout),
      settleMs: o.previousWindowSettleMs,
    });
  }

  async testAndSet(req: FilterRequest): Promise<Uint8Array> {
    const out = new Uint8Array(req.keys.length);
    const ttlMs = windowTtlMs(req.window, this.o.windowMs, req.nowMs, this.o.ttlMarginMs);
    try {
      // One notion of "Redis is up" for the stage: while its fail-fast ioredis client (health, stats,
      // previous-window copies) is not connected, the pipe fails at once like that client would.
      if (this.redis.status !== "ready" && !this.redis.options.enableOfflineQueue) throw new Error(`Connection is closed (client ${this.redis.status})`);
      await Promise.all(groupByFilter(req).map((g) => this.group(req, g, ttlMs, out)));
    } catch (err) {
      throw redisError(err, "BITFIELD", this.redis);
    }
    return out;
  }

  /** One filter: chunked SETs on the current window, and the previous window from the copy or remotely. */
  private async group(req: FilterRequest, g: FilterGroup, ttlMs: number, out: Uint8Array): Promise<void> {
    const { prefix } = this.o;
    const cur = filterKey(prefix, g.scope, req.window, g.shard);
    const prev = filterKey(prefix, g.scope, req.window - 1, g.shard);
    // The TTL goes out right behind the first SET on the same connection: by then the key exists.
    const sets = this.chunks("SET", cur, req, g, out, () => this.pipe.send(encodeCommand(["PEXPIRE", cur, String(ttlMs)])));
    const previous = this.previous.get(prev, req.window - 1, req.nowMs).then((bits) => {
      if (bits.kind === "remote") return Promise.all(this.chunks("GET", prev, req, g, out));
      if (bits.bits) markFromCopy(bits.bits, req, g, out);
    });
    // One Promise.all over everything, so a failure never leaves another promise's rejection unhandled.
    await Promise.all([...sets, previous]);
  }

  /** Sends the chunks of one BITFIELD stream; each reply ORs "all k bits were 1" into `out`. */
  private chunks(
    op: BitfieldOp,
    key: string,
    req: FilterRequest,
    g: FilterGroup,
    out: Uint8Array,
    afterFirst?: () => Promise<unknown>,
  ): Array<Promise<unknown>> {
    const { probes, stride } = req;
    const n = g.positions.length;
    const step = this.o.chunkKeys;
    const sent: Array<Promise<unknown>> = [];
    for (let from = 0; from < n; from += step) {
      const to = Math.min(n, from + step);
      const first = from === 0;
      sent.push(
        this.o.limiter.run(async () => {
          const cmd = encodeBitfield(op, key, probes, stride, g.positions, from, to);
          // Argument order is send order: the BITFIELD is written before `afterFirst`'s command.
          const [reply, after] = await Promise.all([this.pipe.send(cmd), first && afterFirst ? afterFirst() : null]);
          if (reply instanceof Error) throw reply;
          if (after instanceof Error) throw after;
          foldReply(reply, g.positions, from, to, stride - 1, out);
        }),
      );
    }
    return sent;
  }

  /**
   * Reads a whole bitmap in GETRANGE pieces, so no single reply makes Redis copy tens of MB at once while other
   * clients wait. Pieces read at slightly different times are fine: bits are only ever added, and a bit missed
   * here can only make a key look new (never drop one). Null when the key does not exist (or is empty).
   */
  private async fetchBitmap(key: string): Promise<Uint8Array | null> {
    const total = shardBytes(this.o.layout);
    const out = new Uint8Array(total);
    let filled = 0;
    while (filled < total) {
      const start = filled;
      const end = Math.min(total, start + (this.o.fetchPieceBytes ?? FETCH_PIECE_BYTES)) - 1;
      const piece = await this.redis.getrangeBuffer(key, start, end);
      out.set(piece.subarray(0, total - start), start);
      filled = start + piece.length;
      // Redis strings only grow as far as their highest set bit: a short piece is the end of the string.
      if (piece.length < end - start + 1) break;
    }
    return filled === 0 ? null : out;
  }

  async stats(window: number, scopes: readonly string[]): Promise<FilterStats> {
    const { prefix, layout } = this.o;
    const keys: string[] = [];
    for (const scope of scopes) for (let s = 0; s < layout.shards; s++) keys.push(filterKey(prefix, scope, window, s));
    let counts: number[];
    try {
      counts = (await Promise.all(keys.map((k) => this.redis.bitcount(k)))) as number[];
    } catch (err) {
      throw redisError(err, "BITCOUNT", this.redis);
    }
    const maxSet = counts.reduce((m, c) => Math.max(m, c), 0);
    return {
      filters: keys.length,
      maxFillRatio: maxSet / layout.bitsPerShard,
      estimatedFpRate: estimatedFpRate(maxSet, layout.bitsPerShard, layout.k),
    };
  }

  /** Pings both connections: the BITFIELD pipe authenticates on its own, so a refused AUTH shows here at start. */
  async ping(): Promise<void> {
    try {
      await this.redis.ping();
      const reply = await this.pipe.send(encodeCommand(["PING"]));
      if (reply instanceof Error) throw reply;
    } catch (err) {
      throw redisError(err, "PING", this.redis);
    }
  }

  async close(): Promise<void> {
    this.previous.clear();
    this.pipe.close();
  }
}

/** Marks keys whose k bits are all set in the previous window's copy. */
function markFromCopy(bits: Uint8Array, req: FilterRequest, g: FilterGroup, out: Uint8Array): void {
  const { probes, stride } = req;
  const k = stride - 1;
  for (const j of g.positions) {
    if (out[j]) continue;
    const at = j * stride + 1;
    let all = 1;
    for (let p = 0; p < k && all; p++) all = bitAt(bits, probes[at + p]);
    out[j] = all;
  }
}

/** ORs "all k old bits were 1" per key of a BITFIELD reply (k bits per key, in probe order) into `out`. */
function foldReply(reply: unknown, positions: readonly number[], from: number, to: number, k: number, out: Uint8Array): void {
  if (!(reply instanceof Uint8Array) || reply.length !== (to - from) * k) {
    throw new DedupeError("DEDUPE_REDIS_COMMAND", `BITFIELD replied ${reply instanceof Uint8Array ? `${reply.length} values` : typeof reply}, expected ${(to - from) * k}`, {
      retriable: false,
    });
  }
  let r = 0;
  for (let i = from; i < to; i++) {
    let all = 1;
    for (let p = 0; p < k; p++) all &= reply[r++];
    if (all) out[positions[i]] = 1;
  }
}
