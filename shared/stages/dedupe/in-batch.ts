/**
 * Exact duplicates inside one batch, removed before the filter is asked: the filter would answer "maybe seen"
 * for the second copy only after the first one set its bits, and both would race to PostgreSQL.
 *
 * The keys' probes (EnrichedEvents.probes, hashes of the key computed by the enrich threads) index an
 * open-addressing table of event indexes, so the main thread never hashes a key string: a key is compared
 * with another only when their probes agree, and only string equality makes a duplicate (probes that
 * collide, or that are wrong, cost a comparison, never an event). Without probes a Set of the keys does it.
 */
import { EventStatus, type Batch } from "../batch.ts";

/** Table slots per key, at least: a sparse table keeps the probe sequences short. */
const LOAD = 2;

/**
 * Marks every Live event whose dedupe key already occurred earlier in the batch (among Live events) as a
 * duplicate, and returns the indexes of the first occurrences, in record order. Events with an empty key
 * (no identity) are left Live and are not returned: nothing can be said about them.
 * `probes` / `stride`: per event, `stride` hashes of its key (any values: they only pick the candidates).
 */
export function dropInBatchDuplicates(
  batch: Batch,
  keys: readonly string[],
  probes?: Uint32Array,
  stride = 0,
): { firsts: number[]; duplicates: number } {
  const status = batch.status;
  if (!probes || stride < 2 || probes.length < status.length * stride) return bySet(batch, keys);
  let size = 16;
  while (size < status.length * LOAD) size *= 2;
  const mask = size - 1;
  // Slot -> event index + 1 (0: empty).
  const slots = new Int32Array(size);
  const firsts: number[] = [];
  let duplicates = 0;
  for (let i = 0; i < status.length; i++) {
    if (status[i] !== EventStatus.Live) continue;
    const key = keys[i];
    if (!key) continue;
    const h = hashOf(probes, i * stride, stride);
    let s = h & mask;
    let dup = false;
    for (let e = slots[s]; e !== 0; s = (s + 1) & mask, e = slots[s]) {
      const j = e - 1;
      if (hashOf(probes, j * stride, stride) === h && keys[j] === key) {
        dup = true;
        break;
      }
    }
    if (dup) {
      batch.markDuplicate(i);
      duplicates++;
    } else {
      slots[s] = i + 1;
      firsts.push(i);
    }
  }
  return { firsts, duplicates };
}

/**
 * A 32-bit mix of the key's shard and first two offsets (one when k = 1), all derived from its two murmur
 * hashes; only slots of this key are read, so equal keys always hash alike.
 */
function hashOf(probes: Uint32Array, at: number, stride: number): number {
  const h = Math.imul(probes[at + 1] ^ probes[at], 0x9e3779b1);
  return (stride > 2 ? h ^ probes[at + 2] : h) >>> 0;
}

/** The same with a Set of the key strings, for events without usable probes. */
function bySet(batch: Batch, keys: readonly string[]): { firsts: number[]; duplicates: number } {
  const seen = new Set<string>();
  const firsts: number[] = [];
  let duplicates = 0;
  const status = batch.status;
  for (let i = 0; i < status.length; i++) {
    if (status[i] !== EventStatus.Live) continue;
    const key = keys[i];
    if (!key) continue;
    if (seen.has(key)) {
      batch.markDuplicate(i);
      duplicates++;
    } else {
      seen.add(key);
      firsts.push(i);
    }
  }
  return { firsts, duplicates };
}
