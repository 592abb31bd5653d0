/**
 * Batches as the enrich stage hands them to dedupe (packRecords + EnrichedEvents + probes from bloom-math),
 * for the dedupe tests and bench (dev/support kit), and the Redis keys a run left under its prefix.
 */
import type Redis from "ioredis";
import { Batch, type EnrichedEvents } from "../../shared/stages/batch.ts";
import { packRecords } from "../../shared/stages/records.ts";
import { bloomLayout, probeStride, writeProbes } from "../../shared/stages/dedupe/bloom-math.ts";
import { filterCapacity } from "../../shared/stages/dedupe/sizing.ts";
import type { DedupeStageConfig } from "../../shared/topology/types.ts";

/** One test event: its CloudEvents identity and tenant. */
export interface EventSpec {
  source: string;
  id: string;
  tenant?: string | null;
}

/** `n` distinct events `<prefix>-0 … <prefix>-(n-1)` from one source. */
export function events(prefix: string, n: number, source = "/test/source", tenant: string | null = null): EventSpec[] {
  return Array.from({ length: n }, (_, i) => ({ source, id: `${prefix}-${i}`, tenant }));
}

/**
 * A batch whose `events` are filled as the enrich stage fills them: dedupe key = key fields joined with
 * "\u0000", probes from `writeProbes` with the config's layout.
 */
export function makeBatch(specs: readonly EventSpec[], cfg: DedupeStageConfig): Batch {
  const records = packRecords(
    specs.map((e, i) => ({
      topic: "events",
      partition: 0,
      offset: i,
      value: JSON.stringify({ specversion: "1.0", source: e.source, id: e.id, type: "test.event" }),
    })),
  );
  const batch = new Batch(records);
  const layout = bloomLayout(filterCapacity(cfg), cfg.falsePositiveRate);
  const stride = probeStride(layout);
  const n = specs.length;
  const time = Date.UTC(2024, 0, 1);
  const ev: EnrichedEvents = {
    id: specs.map((e) => e.id),
    source: specs.map((e) => e.source),
    type: specs.map(() => "test.event"),
    subject: specs.map(() => null),
    time: new Float64Array(n).fill(time),
    timeText: specs.map(() => new Date(time).toISOString()),
    tenant: specs.map((e) => e.tenant ?? null),
    data: specs.map(() => null),
    extensions: specs.map(() => "{}"),
    ingestedAt: new Float64Array(n).fill(time),
    dedupeKey: specs.map((e) => cfg.keyFields.map((f) => (f === "source" ? e.source : f === "id" ? e.id : "")).join("\u0000")),
    probes: new Uint32Array(n * stride),
    probesPerKey: stride,
    copyLines: specs.map(() => ""),
  };
  for (let i = 0; i < n; i++) writeProbes(ev.dedupeKey[i], layout, ev.probes, i * stride);
  batch.events = ev;
  return batch;
}

/** Redis keys under `prefix` (SCAN, never KEYS), sorted. */
export async function scanKeys(redis: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    out.push(...batch);
    cursor = next;
  } while (cursor !== "0");
  return out.sort();
}
