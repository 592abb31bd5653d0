/**
 * Paces a generator by its consumers: production waits while what was produced and is not yet consumed
 * (committed) would exceed a bound. The demo needs it because librdkafka's mock cluster keeps only a fixed
 * amount per partition and deletes the oldest messages on every append: a generator that outruns the
 * pipeline would make the mock delete events before they are read. With the bound below what the mock
 * keeps, the generator runs at whatever rate the pipeline sustains, indefinitely.
 */
import { createEventFactory } from "./events.ts";
import { sleepUnlessAborted } from "./token-bucket.ts";
import type { GeneratorConfig } from "../topology/types.ts";

/** What one mock partition keeps (hard-coded in librdkafka's rdkafka_mock.c): 100,000 messages or 5 MiB. */
export const MOCK_PARTITION_MAX_MESSAGES = 100_000;
export const MOCK_PARTITION_MAX_BYTES = 5 * 1024 * 1024;
/** Per-record cost in a v2 record batch beyond key, value and headers (varints, attributes), rounded up. */
const RECORD_OVERHEAD_BYTES = 32;
/** Fraction of a partition's capacity the backlog may fill: the rest absorbs reporting delay and skew. */
const MARGIN = 0.5;

/** Holds a producer back while produced minus consumed reaches `limit`. */
export class BacklogPacer {
  /** True while the last admit() had to wait (the live line shows it). */
  held = false;
  /** Total time spent held, in ms. */
  heldMs = 0;

  /**
   * @param limit most events produced and not yet consumed
   * @param consumed cumulative events the consumers have committed (may lag reality by a report interval)
   */
  constructor(
    readonly limit: number,
    private readonly consumed: () => number,
    private readonly pollMs = 50,
  ) {
    if (!(limit >= 1)) throw new RangeError(`backlog limit must be >= 1, got ${limit}`);
  }

  /** Waits until `n` more events fit after `produced`; false when `signal` aborted first. */
  async admit(produced: number, n: number, signal?: AbortSignal): Promise<boolean> {
    // A batch larger than the bound still goes once the backlog is empty, or nothing would ever move.
    const room = () => this.limit - Math.max(0, produced - this.consumed());
    if (room() >= Math.min(n, this.limit)) {
      this.held = false;
      return true;
    }
    this.held = true;
    const since = performance.now();
    try {
      while (room() < Math.min(n, this.limit)) {
        if (signal?.aborted) return false;
        await sleepUnlessAborted(this.pollMs, signal);
      }
      return !signal?.aborted;
    } finally {
      this.heldMs += performance.now() - since;
    }
  }
}

/**
 * The backlog a generator may keep in a mock topic of `partitions` partitions without the mock deleting
 * unread events: half of what one partition keeps, scaled by how evenly the generator's keys spread over
 * the partitions (the record key is the tenant; librdkafka's default partitioner is CRC32 of the key).
 */
export function mockBacklogLimit(config: GeneratorConfig, partitions: number): number {
  const perPartition = Math.min(MOCK_PARTITION_MAX_MESSAGES, Math.floor(MOCK_PARTITION_MAX_BYTES / averageRecordBytes(config)));
  return Math.max(1, Math.floor((perPartition * MARGIN) / busiestPartitionShare(config.tenants, partitions)));
}

/** Average wire size of the generator's records, measured on a sample. */
function averageRecordBytes(config: GeneratorConfig): number {
  const factory = createEventFactory({ ...config, seed: 1 });
  const SAMPLE = 500;
  let bytes = 0;
  for (let i = 0; i < SAMPLE; i++) {
    const r = factory.next();
    bytes += RECORD_OVERHEAD_BYTES + Buffer.byteLength(r.value) + (r.key ? Buffer.byteLength(r.key) : 0);
    for (const [k, v] of r.headers ?? []) bytes += k.length + Buffer.byteLength(v) + 2;
  }
  return bytes / SAMPLE;
}

/** Share of the traffic the busiest partition gets when each tenant key maps to CRC32(key) % partitions. */
export function busiestPartitionShare(tenants: number, partitions: number): number {
  const counts = new Array<number>(partitions).fill(0);
  for (let i = 0; i < tenants; i++) counts[Bun.hash.crc32(`t${String(i).padStart(3, "0")}`) % partitions]++;
  return Math.max(...counts) / tenants;
}
