/**
 * In-process bitmap Bloom filter with the same layout and window semantics as the Redis bitmap: for demos and
 * single-worker runs. State is lost on restart, which is safe (every event looks new; PostgreSQL's unique key
 * keeps the result exact) but not shared between workers.
 */
import { estimatedFpRate, type BloomLayout } from "./bloom-math.ts";
import { groupByFilter, shardBytes, type BloomBackend, type FilterRequest, type FilterStats } from "./backend.ts";

interface Bitmap {
  bits: Uint8Array;
  /** Bits set so far, counted as they flip, so stats never need a popcount over the whole bitmap. */
  setBits: number;
}

/** The in-process backend. Keeps at most two windows (current and previous); older ones are dropped. */
export class MemoryBackend implements BloomBackend {
  readonly kind = "memory" as const;
  readonly needsProbes = true;
  /** window -> "scope\0shard" -> bitmap */
  private readonly windows = new Map<number, Map<string, Bitmap>>();

  constructor(private readonly layout: BloomLayout) {}

  /** Bitmaps currently held (for tests: old windows must be released). */
  get filterCount(): number {
    let n = 0;
    for (const w of this.windows.values()) n += w.size;
    return n;
  }

  async testAndSet(req: FilterRequest): Promise<Uint8Array> {
    this.dropBefore(req.window - 1);
    const out = new Uint8Array(req.keys.length);
    const { probes, stride } = req;
    const k = stride - 1;
    for (const g of groupByFilter(req)) {
      const cur = this.bitmap(req.window, g.scope, g.shard, true)!;
      const prev = this.bitmap(req.window - 1, g.scope, g.shard, false);
      const cb = cur.bits;
      for (const j of g.positions) {
        const at = j * stride + 1;
        let inCur = 1;
        let inPrev = prev ? 1 : 0;
        for (let p = 0; p < k; p++) {
          const off = probes[at + p];
          const byte = off >>> 3;
          const mask = 0x80 >>> (off & 7); // MSB first, like Redis bit offsets
          if ((cb[byte] & mask) === 0) {
            inCur = 0;
            cb[byte] |= mask;
            cur.setBits++;
          }
          if (inPrev && (prev!.bits[byte] & mask) === 0) inPrev = 0;
        }
        out[j] = inCur | inPrev;
      }
    }
    return out;
  }

  async stats(window: number, scopes: readonly string[]): Promise<FilterStats> {
    const w = this.windows.get(window);
    let filters = 0;
    let maxSet = 0;
    if (w) {
      const wanted = new Set(scopes);
      for (const [id, bm] of w) {
        if (!wanted.has(id.slice(0, id.indexOf("\u0000")))) continue;
        filters++;
        maxSet = Math.max(maxSet, bm.setBits);
      }
    }
    const total = this.layout.bitsPerShard;
    return { filters, maxFillRatio: maxSet / total, estimatedFpRate: estimatedFpRate(maxSet, total, this.layout.k) };
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.windows.clear();
  }

  private bitmap(window: number, scope: string, shard: number, create: boolean): Bitmap | undefined {
    let w = this.windows.get(window);
    if (!w) {
      if (!create) return undefined;
      w = new Map();
      this.windows.set(window, w);
    }
    const id = `${scope}\u0000${shard}`;
    let bm = w.get(id);
    if (!bm && create) {
      bm = { bits: new Uint8Array(shardBytes(this.layout)), setBits: 0 };
      w.set(id, bm);
    }
    return bm;
  }

  private dropBefore(window: number): void {
    for (const w of this.windows.keys()) if (w < window) this.windows.delete(w);
  }
}
