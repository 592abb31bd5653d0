/**
 * The probes of the events a batch sends to the filter, packed densely (one stride per asked event).
 * The enrich threads precompute them (EnrichedEvents.probes); they are copied when they match this stage's
 * layout and recomputed on the main thread when they do not (a different layout, or none), so an out-of-range
 * offset can never reach Redis (which would allocate a bitmap up to 512 MB to hold it).
 */
import type { EnrichedEvents } from "../batch.ts";
import { probeStride, writeProbes, type BloomLayout } from "./bloom-math.ts";

/** Packed probes of `indexes`, and whether the enrich stage's probes could be used as they are. */
export function packProbes(
  events: EnrichedEvents,
  indexes: readonly number[],
  layout: BloomLayout,
): { probes: Uint32Array; stride: number; recomputed: boolean } {
  const stride = probeStride(layout);
  const out = new Uint32Array(indexes.length * stride);
  const src = events.probes;
  const usable = events.probesPerKey === stride && src.length >= events.dedupeKey.length * stride;
  if (usable && copyChecked(src, indexes, stride, layout, out)) return { probes: out, stride, recomputed: false };
  for (let j = 0; j < indexes.length; j++) writeProbes(events.dedupeKey[indexes[j]], layout, out, j * stride);
  return { probes: out, stride, recomputed: true };
}

/** Copies the probes of `indexes` into `out`; false as soon as one shard or offset is out of range. */
function copyChecked(src: Uint32Array, indexes: readonly number[], stride: number, layout: BloomLayout, out: Uint32Array): boolean {
  const { shards, bitsPerShard } = layout;
  for (let j = 0; j < indexes.length; j++) {
    const from = indexes[j] * stride;
    const to = j * stride;
    if (src[from] >= shards) return false;
    out[to] = src[from];
    for (let p = 1; p < stride; p++) {
      const off = src[from + p];
      if (off >= bitsPerShard) return false;
      out[to + p] = off;
    }
  }
  return true;
}
