/**
 * Finds jumps in a partition's delivered offsets that were not deliveries, so that loss on the broker's
 * side is never silent.
 *
 * librdkafka resets a fetch position that fell out of the log (auto.offset.reset) on its own: when
 * retention deletes data before it was read, the next delivered offset is simply higher, and committing it
 * would pass over the deleted range without anyone noticing. When the log is truncated below the position
 * (unclean leader election, recreated topic) the next delivered offset is lower. Both are visible only in
 * the delivered offsets, so every delivered offset is compared with the one expected next (the committed
 * offset at assignment, then the last delivered + 1):
 *
 * - lower: a backward reset. Reported at once; the events below the old position are re-read (the table
 *   drops them as duplicates) and counted.
 * - higher: a hole. Holes are normal on compacted topics and after transaction markers, so a hole counts
 *   as deleted only as far as the partition's log start offset (low watermark) has moved past it: the
 *   low watermark is queried once per burst of holes, and [from, min(to, low)) is what retention deleted.
 */
import type { TopicPartition } from "../../kafka/types.ts";
import { tpKey } from "./offset-tracker.ts";
import { WATERMARK_RETRY_MS } from "./budgets.ts";

/** Why offsets were skipped; the `reason` label of `topofleet_skipped_offsets_total`. */
export type JumpReason = "deleted_before_read" | "reset_backward";

/** Stable codes of the warnings logged for each jump. */
export const JUMP_CODES: Readonly<Record<JumpReason, string>> = {
  deleted_before_read: "KAFKA_OFFSETS_DELETED_BEFORE_READ",
  reset_backward: "KAFKA_OFFSET_RESET_BACKWARD",
};

/** What each jump means for the data (docs/reference/errors.md). */
export const JUMP_DESCRIPTIONS: Readonly<Record<JumpReason, string>> = {
  deleted_before_read:
    "The broker deleted offsets (retention, DeleteRecords) before the fleet read them: those events are lost. Logged once per partition with the range; `/readyz` answers 503 for 30 s and the run exits 1.",
  reset_backward:
    "A partition's position moved back (its log was truncated below the committed offset: unclean leader election, a recreated topic). Nothing is lost: the events are re-read and the table drops those stored before.",
};

/** One jump of a partition's position: offsets [from, to) were skipped (deleted), or the position moved from `from` back to `to`. */
export interface OffsetJump extends TopicPartition {
  reason: JumpReason;
  from: number;
  to: number;
  /** Offsets deleted before read, or offsets the position moved back by. */
  count: number;
}


/** What the detector needs from the consumer. */
export interface JumpDetectorDeps {
  /** The partition's log start offset (low watermark), queried from the broker. */
  lowWatermark(tp: TopicPartition): Promise<number>;
  /** Called once per jump found. */
  report(jump: OffsetJump): void;
  /** Events delivered again after a backward reset (offsets below the position before it). */
  reread(tp: TopicPartition, count: number): void;
  /** A low-watermark query failed (the holes stay pending and the query is retried). */
  queryFailed(tp: TopicPartition, err: unknown): void;
}

interface PartitionWatch {
  tp: TopicPartition;
  /** Offset expected next; -1 until known (no committed offset and nothing delivered yet). */
  expected: number;
  /** First offset delivered while the committed offset was unknown (-1: none), checked once it is known. */
  firstUnchecked: number;
  /** Offsets delivered since `firstUnchecked`, while the committed offset was still unknown. */
  uncheckedCount: number;
  /** Events below this offset were delivered before (a backward reset): they count as re-read. */
  rereadBelow: number;
  /** Holes [from, to) not yet classified. */
  holes: Array<[number, number]>;
  querying: boolean;
  /** False once revoked: answers of queries still running are dropped. */
  live: boolean;
}

/** Watches each assigned partition's delivered offsets; see the module doc. */
export class OffsetJumpDetector {
  private readonly watches = new Map<string, PartitionWatch>();
  private readonly classifying = new Set<Promise<void>>();

  constructor(private readonly deps: JumpDetectorDeps) {}

  /** Starts watching a partition; the committed offset comes later through `committedAt` (or never). */
  assign(tp: TopicPartition): void {
    const key = tpKey(tp.topic, tp.partition);
    const old = this.watches.get(key);
    if (old) old.live = false;
    this.watches.set(key, { tp: { ...tp }, expected: -1, firstUnchecked: -1, uncheckedCount: 0, rereadBelow: -1, holes: [], querying: false, live: true });
  }

  /** Stops watching a partition. */
  revoke(tp: TopicPartition): void {
    const key = tpKey(tp.topic, tp.partition);
    const w = this.watches.get(key);
    if (w) w.live = false;
    this.watches.delete(key);
  }

  /**
   * The group's committed offset of a partition, known after the assignment (< 0: none committed, the
   * start policy applies and nothing can have been skipped). A first delivery above it is a hole.
   */
  committedAt(tp: TopicPartition, offset: number): void {
    const w = this.watches.get(tpKey(tp.topic, tp.partition));
    if (!w) return;
    const first = w.firstUnchecked;
    const seen = w.uncheckedCount;
    w.firstUnchecked = -1;
    w.uncheckedCount = 0;
    if (offset < 0) return;
    if (first < 0) {
      // Already positioned (an answer for a partition that was tracked before): deliveries know better.
      if (w.expected < 0) w.expected = offset;
    } else if (first > offset) {
      this.hole(w, offset, first);
    } else if (first < offset) {
      this.backward(w, offset, first);
      // Delivered offsets run on from `first`: those below the committed offset were re-reads.
      this.deps.reread(w.tp, Math.min(seen, offset - first));
    }
  }

  /**
   * Checks one partition's offsets of a batch, in delivery order. Returns true when the position moved
   * backwards among them: the caller rewinds its commit bookkeeping before tracking them.
   */
  observe(tp: TopicPartition, offsets: ArrayLike<number>): boolean {
    const w = this.watches.get(tpKey(tp.topic, tp.partition));
    let rewound = false;
    let reread = 0;
    if (!w) return rewound;
    for (let i = 0; i < offsets.length; i++) {
      const o = offsets[i];
      if (w.expected < 0 && w.firstUnchecked < 0) {
        w.firstUnchecked = o;
      } else if (o > w.expected) {
        this.hole(w, w.expected, o);
      } else if (o < w.expected) {
        this.backward(w, w.expected, o);
        rewound = true;
      }
      if (w.firstUnchecked >= 0) w.uncheckedCount++;
      if (o < w.rereadBelow) reread++;
      w.expected = o + 1;
    }
    if (reread > 0) this.deps.reread(w.tp, reread);
    return rewound;
  }

  private backward(w: PartitionWatch, from: number, to: number): void {
    this.deps.report({ ...w.tp, reason: "reset_backward", from, to, count: from - to });
    w.rereadBelow = Math.max(w.rereadBelow, from);
    // The holes before the reset describe a log that no longer exists.
    w.holes = [];
  }

  /** Resolves once every hole found so far is classified (and reported): await it before a final report. */
  async settled(): Promise<void> {
    while (this.classifying.size > 0) await Promise.all([...this.classifying]);
  }

  private hole(w: PartitionWatch, from: number, to: number): void {
    w.holes.push([from, to]);
    if (w.querying) return;
    const run = this.classify(w).finally(() => this.classifying.delete(run));
    this.classifying.add(run);
  }

  /** Resolves the pending holes of a partition against its low watermark (one query at a time). */
  private async classify(w: PartitionWatch): Promise<void> {
    w.querying = true;
    try {
      while (w.live && w.holes.length > 0) {
        const holes = w.holes;
        w.holes = [];
        let low: number;
        try {
          low = await this.deps.lowWatermark(w.tp);
        } catch (err) {
          this.deps.queryFailed(w.tp, err);
          w.holes.unshift(...holes);
          await Bun.sleep(WATERMARK_RETRY_MS);
          continue;
        }
        if (!w.live) return;
        // Holes of one burst are reported as one range per partition: one warning, not one per hole.
        let from = -1;
        let to = -1;
        let count = 0;
        for (const [a, b] of holes) {
          const deleted = Math.min(b, low) - a;
          if (deleted <= 0) continue;
          if (from < 0) from = a;
          to = a + deleted;
          count += deleted;
        }
        if (count > 0) this.deps.report({ ...w.tp, reason: "deleted_before_read", from, to, count });
      }
    } finally {
      w.querying = false;
    }
  }
}
