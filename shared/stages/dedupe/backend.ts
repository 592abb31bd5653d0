/**
 * The one interface behind which every Bloom filter implementation sits (in-process bitmap, Redis BITFIELD
 * bitmap, RedisBloom BF.*). The conformance suite in test/stages/dedupe runs against each of them.
 */
import type { BloomLayout } from "./bloom-math.ts";

/** The keys of one batch that reach the filter (already unique within the batch). */
export interface FilterRequest {
  /** Current window id; keys are set in it and looked up in it and in `window - 1`. */
  window: number;
  /** Dedupe keys (the RedisBloom path hashes them itself). */
  keys: readonly string[];
  /** Filter scope of each key (see windows.ts `scopeOf`). */
  scopes: readonly string[];
  /**
   * Per key, `stride` slots at `j * stride`: the shard, then k bit offsets (bloom-math `writeProbes`).
   * Empty (stride 0) for a backend whose `needsProbes` is false.
   */
  probes: Uint32Array;
  stride: number;
  /** The stage's clock at the time of the request (TTL and snapshot decisions use it, not Date.now()). */
  nowMs: number;
}

/** Fill of the current window's filters, for the fill-ratio and false-positive gauges. */
export interface FilterStats {
  /** Filters sampled. */
  filters: number;
  /** Highest fill ratio (set bits / bits) among them: the worst filter drives the false-positive rate. */
  maxFillRatio: number;
  /** Estimated false-positive rate of that filter (bloom-math `estimatedFpRate`). */
  estimatedFpRate: number;
}

/** A Bloom filter store with windowed test-and-set. */
export interface BloomBackend {
  /** "memory", "bitmap" (Redis BITFIELD) or "bloom" (RedisBloom BF.*). */
  readonly kind: "memory" | "bitmap" | "bloom";
  /** False when the store hashes the keys itself (RedisBloom): the request's probes may then be empty. */
  readonly needsProbes: boolean;
  /**
   * Sets every key in the current window and returns, per key, 1 when it was maybe present before (all of its
   * bits already set in the current window, or in the previous one) and 0 when it is certainly new there.
   * Throws on failure; a partial failure may have set some bits (which is safe: see the stage's verify step).
   */
  testAndSet(req: FilterRequest): Promise<Uint8Array>;
  /** Samples the fill of the current window's filters for `scopes` (at most a few commands). */
  stats(window: number, scopes: readonly string[]): Promise<FilterStats>;
  /** Resolves when the store answers; throws otherwise. */
  ping(): Promise<void>;
  /** Releases connections and memory. */
  close(): Promise<void>;
}

/** One filter (scope + shard) and the positions in the request of the keys that hash into it. */
export interface FilterGroup {
  scope: string;
  shard: number;
  positions: number[];
}

/** Groups request positions by (scope, shard), in first-seen order, so each filter gets one command stream. */
export function groupByFilter(req: FilterRequest): FilterGroup[] {
  const groups = new Map<string, FilterGroup>();
  const { scopes, probes, stride } = req;
  let last: FilterGroup | undefined;
  for (let j = 0; j < scopes.length; j++) {
    const scope = scopes[j];
    const shard = probes[j * stride];
    // Most batches have one scope and one shard: skip the map lookup while it does not change.
    if (last && last.scope === scope && last.shard === shard) {
      last.positions.push(j);
      continue;
    }
    const id = `${scope}\u0000${shard}`;
    let g = groups.get(id);
    if (!g) {
      g = { scope, shard, positions: [] };
      groups.set(id, g);
    }
    g.positions.push(j);
    last = g;
  }
  return [...groups.values()];
}

/** Total bits of one filter shard in bytes (what a full bitmap of it occupies). */
export const shardBytes = (layout: BloomLayout): number => Math.ceil(layout.bitsPerShard / 8);
