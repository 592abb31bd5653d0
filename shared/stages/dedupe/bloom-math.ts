/**
 * Bloom filter sizing and probe computation. Pure and dependency-free because it runs in the enrich
 * threads (which precompute every event's probes) as well as in the dedupe stage.
 *
 * The hash is defined here, over UTF-16 code units, and must never change: filters live in Redis across
 * restarts and upgrades, and a different hash would make every old bit meaningless (and every old event
 * look new, which is safe but slow: all of them would be verified against PostgreSQL).
 */

/** Redis strings hold at most 2^32 bits; larger filters are split into shards (separate keys). */
export const MAX_BITS_PER_SHARD = 2 ** 32;

/** Shape of one window's filter. */
export interface BloomLayout {
  /** Bits per shard (each shard is one Redis key / one in-memory bitmap). */
  bitsPerShard: number;
  shards: number;
  /** Probes (bit positions) per key. */
  k: number;
}

/** Sizes a filter for `expected` keys at false-positive rate `fpr` (standard optimum m = -n ln p / ln²2). */
export function bloomLayout(expected: number, fpr: number): BloomLayout {
  if (!(expected > 0)) throw new RangeError(`expected keys must be > 0, got ${expected}`);
  if (!(fpr > 0 && fpr < 1)) throw new RangeError(`false-positive rate must be in (0, 1), got ${fpr}`);
  const bits = Math.ceil((-expected * Math.log(fpr)) / (Math.LN2 * Math.LN2));
  const k = Math.max(1, Math.round((bits / expected) * Math.LN2));
  const shards = Math.max(1, Math.ceil(bits / MAX_BITS_PER_SHARD));
  // Round each shard up to a multiple of 64 so bitmaps align to words.
  const bitsPerShard = Math.ceil(bits / shards / 64) * 64;
  return { bitsPerShard, shards, k };
}

/** Estimated false-positive rate of a filter with `setBits` of `totalBits` set, probed `k` times. */
export function estimatedFpRate(setBits: number, totalBits: number, k: number): number {
  return Math.pow(setBits / totalBits, k);
}

/** MurmurHash3 x86_32 over the UTF-16 code units of `s`. */
export function murmur32(s: string, seed: number): number {
  let h = seed >>> 0;
  const n = s.length;
  let i = 0;
  // Two code units per 32-bit block.
  for (; i + 1 < n; i += 2) {
    let k = (s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16)) >>> 0;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < n) {
    let k = s.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= n * 2;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Writes the shard index and `layout.k` bit offsets of `key` into `out` at `at` (k + 1 slots:
 * out[at] = shard, out[at+1..at+k] = offsets). Kirsch–Mitzenmacher double hashing: g_i = h1 + i·h2 mod m,
 * with h2 forced odd so it cycles through all of m when m is a power-of-two multiple.
 */
export function writeProbes(key: string, layout: BloomLayout, out: Uint32Array, at: number): void {
  const h1 = murmur32(key, 0x9747b28c);
  // `| 1` yields a signed int32; `>>> 0` keeps h2 unsigned so every offset lands in [0, m) (a negative
  // h2 made the remainder negative, which the Uint32Array wrapped to offsets near 2^32).
  const h2 = (murmur32(key, 0x5bd1e995) | 1) >>> 0;
  const m = layout.bitsPerShard;
  out[at] = layout.shards === 1 ? 0 : murmur32(key, 0x27d4eb2f) % layout.shards;
  // Use doubles: h1 + i*h2 can exceed 2^32, and m can be as large as 2^32 itself.
  for (let i = 0; i < layout.k; i++) out[at + 1 + i] = (h1 + i * h2) % m;
}

/** Slots per key in a probes array: the shard index plus k offsets. */
export const probeStride = (layout: BloomLayout): number => layout.k + 1;
