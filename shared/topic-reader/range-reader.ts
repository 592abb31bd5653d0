/**
 * Reads fixed offset ranges [start, end) of a topic's partitions through a subscribed Consumer and stops
 * when every range is covered. Used by replay (a time range, a whole DLQ) and by the audit (a DLQ to its
 * end). The consumer must already be positioned at or before each range's start (a fresh group reading
 * from earliest, or offsets committed for the group beforehand); messages outside the ranges are skipped.
 */
import { LoadgenError } from "../loadgen/errors.ts";
import { OffsetJumpDetector, type OffsetJump } from "../runtime/engine/offset-jumps.ts";
import type { Consumer } from "../kafka/index.ts";
import type { ConsumedMessage } from "../kafka/types.ts";

/** Offsets [start, end) of one partition. */
export interface PartitionRange {
  partition: number;
  start: number;
  end: number;
}

export interface ReadRangesOptions {
  consumer: Consumer;
  topic: string;
  ranges: readonly PartitionRange[];
  /** Receives each consume call's in-range messages; their views are valid until the promise settles. */
  onBatch(messages: ConsumedMessage[]): Promise<void> | void;
  maxMessages?: number;
  /** Fail when no in-range message arrives for this long while ranges are still open (default 60 s). */
  stallTimeoutMs?: number;
  signal?: AbortSignal;
  /**
   * Called for each jump of a partition's offsets that was not a delivery (retention deleted part of a range
   * before it was read, or the log moved back); see runtime/engine/offset-jumps.ts. Jumps found are
   * reported before readRanges resolves.
   */
  onJump?: (jump: OffsetJump) => void;
}

/** Messages in [start, end) summed over ranges. */
export function rangeSize(ranges: readonly PartitionRange[]): number {
  return ranges.reduce((n, r) => n + Math.max(0, r.end - r.start), 0);
}

/**
 * Reads the ranges (see module doc); resolves with the number of in-range messages delivered. A partition
 * is finished once a message at offset >= end - 1 was seen, and is then paused so the broker stops sending.
 */
export async function readRanges(o: ReadRangesOptions): Promise<number> {
  const open = new Map<number, PartitionRange>();
  for (const r of o.ranges) if (r.end > r.start) open.set(r.partition, r);
  const stallMs = o.stallTimeoutMs ?? 60_000;
  const jumps = o.onJump ? rangeJumpDetector(o, [...open.values()]) : null;
  let delivered = 0;
  let lastProgress = performance.now();
  while (open.size > 0) {
    if (o.signal?.aborted) break;
    const batch = await o.consumer.consume(o.maxMessages ?? 5000, 500);
    try {
      const inRange: ConsumedMessage[] = [];
      const finished: number[] = [];
      for (const m of batch.messages) {
        if (m.topic !== o.topic) continue;
        const r = open.get(m.partition);
        if (!r || m.offset < r.start || m.offset >= r.end) continue;
        inRange.push(m);
        if (m.offset >= r.end - 1) finished.push(m.partition);
      }
      if (inRange.length) {
        jumps?.observe(inRange);
        await o.onBatch(inRange);
        delivered += inRange.length;
        lastProgress = performance.now();
      }
      for (const p of finished) open.delete(p);
      if (finished.length) o.consumer.pause(finished.map((partition) => ({ topic: o.topic, partition })));
    } finally {
      batch.release();
    }
    if (open.size > 0 && performance.now() - lastProgress > stallMs) {
      const waiting = [...open.values()].map((r) => `p${r.partition} [${r.start}, ${r.end})`).join(", ");
      throw new LoadgenError("TOPIC_READ_STALLED", `no progress reading ${o.topic} for ${Math.round(stallMs / 1000)} s; still open: ${waiting}`, {
        retriable: true,
        context: { topic: o.topic, open: open.size },
      });
    }
  }
  await jumps?.settled();
  return delivered;
}

/** Watches the in-range offsets of each partition from its range's start (the position the reader begins at). */
function rangeJumpDetector(o: ReadRangesOptions, ranges: readonly PartitionRange[]) {
  const detector = new OffsetJumpDetector({
    lowWatermark: async (tp) => (await o.consumer.watermarks(tp.topic, tp.partition)).low,
    report: (j) => o.onJump!(j),
    reread: () => {},
    queryFailed: () => {},
  });
  for (const r of ranges) {
    const tp = { topic: o.topic, partition: r.partition };
    detector.assign(tp);
    detector.committedAt(tp, r.start);
  }
  return {
    observe(messages: readonly ConsumedMessage[]): void {
      // Messages come in runs per partition: observe each run's offsets at once.
      for (let i = 0; i < messages.length; ) {
        const partition = messages[i].partition;
        const offsets: number[] = [];
        while (i < messages.length && messages[i].partition === partition) offsets.push(messages[i++].offset);
        detector.observe({ topic: o.topic, partition }, offsets);
      }
    },
    settled: () => detector.settled(),
  };
}
