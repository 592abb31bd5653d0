/**
 * Per-partition commit bookkeeping for a pipeline that finishes batches out of order.
 *
 * Kafka's commit is a single number per partition ("everything before this offset is done"), so the
 * engine may only commit the end of the longest prefix of *delivered* offsets that are fully processed.
 * Contiguity is defined over the sequence of offsets the consumer actually delivered, in delivery order,
 * never over `offset + 1` arithmetic: compacted topics and transaction markers leave holes in the offset
 * space that are never delivered, and waiting for them would stall the partition forever.
 *
 * Each consumed batch registers one segment per partition it holds (its offsets for that partition, in
 * delivery order). A segment is done when its batch settled and its dead letters were acknowledged.
 * Done segments at the head of a partition's queue are popped; the last popped offset + 1 is what can
 * be committed. Outcome tallies ride along with the segments so that progress counts only what is
 * committed.
 *
 * A backward reset of the partition's log (truncation, recreated topic: the consumer delivers offsets below
 * what was done) starts a new epoch with `rewind()`: the first done segment of the new epoch replaces the
 * done position instead of being maxed with it, so the partition commits and counts again at once rather
 * than waiting until its offsets pass the old position.
 *
 * Revocation drops a partition's state and bumps its generation: handles held by batches that are still
 * running become stale, so a batch abandoned at revocation can never commit (or count) anything for a
 * partition that was taken away, even if the same partition is assigned back to this worker later.
 */
import type { TopicPartition, TopicPartitionOffset } from "../../kafka/types.ts";

/** Outcome counts of the events of one segment (or of several merged segments). */
export interface Tally {
  events: number;
  persisted: number;
  duplicates: number;
  invalid: number;
  /** Dropped on purpose by a filter rule (EventStatus.Filtered). */
  filtered: number;
}

/** A zero tally. */
export function emptyTally(): Tally {
  return { events: 0, persisted: 0, duplicates: 0, invalid: 0, filtered: 0 };
}

/** Adds `b` into `a` (in place) and returns `a`. */
export function addTally(a: Tally, b: Tally): Tally {
  a.events += b.events;
  a.persisted += b.persisted;
  a.duplicates += b.duplicates;
  a.invalid += b.invalid;
  a.filtered += b.filtered;
  return a;
}

/** What a batch holds to mark its part of one partition done. */
export interface SegmentHandle {
  readonly topic: string;
  readonly partition: number;
  /** The partition's assignment generation when the segment was tracked. */
  readonly generation: number;
  /** Last offset of the segment in delivery order. */
  readonly lastOffset: number;
  /** Number of offsets in the segment. */
  readonly count: number;
  /** Unique segment id within the tracker. */
  readonly id: number;
}

/** A commit the engine may issue: `offset` is the next offset to consume (last done + 1). */
export interface PendingCommit extends TopicPartitionOffset {
  /** Outcome counts of the segments this commit covers that no earlier commit has covered. */
  tally: Tally;
  generation: number;
  /** The rewind epoch of the offset (see rewind()). */
  epoch: number;
}

interface Segment {
  id: number;
  epoch: number;
  lastOffset: number;
  done: boolean;
  tally: Tally;
}

interface PartitionState {
  topic: string;
  partition: number;
  generation: number;
  /** Segments in delivery order; the head is the oldest not yet popped. */
  queue: Segment[];
  /** Highest offset covered by the popped (done, contiguous) prefix; -1 before any. */
  doneThrough: number;
  /** Next offset already committed (or known committed at assignment); -1 when unknown. */
  committed: number;
  /** Offset handed out by takeCommits and not yet confirmed; -1 when none. */
  inFlight: number;
  /** Tally of popped segments not yet handed out in a commit. */
  pending: Tally;
  /** Rewind epoch of segments tracked from now on. */
  epoch: number;
  /** Rewind epoch of `doneThrough`. */
  doneEpoch: number;
}

/** Stable map key of a topic-partition. */
export function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** Tracks delivered and processed offsets per partition and says what is safe to commit. */
export class OffsetTracker {
  private readonly parts = new Map<string, PartitionState>();
  private readonly generations = new Map<string, number>();
  private nextSegmentId = 1;

  /**
   * Starts (or restarts) tracking a partition after an assignment. `committedOffset` is the group's
   * committed next offset when known (so that an unchanged position is not committed again).
   */
  assign(tp: TopicPartition, committedOffset = -1): void {
    const key = tpKey(tp.topic, tp.partition);
    const generation = (this.generations.get(key) ?? 0) + 1;
    this.generations.set(key, generation);
    this.parts.set(key, {
      topic: tp.topic,
      partition: tp.partition,
      generation,
      queue: [],
      doneThrough: committedOffset >= 0 ? committedOffset - 1 : -1,
      committed: committedOffset,
      inFlight: -1,
      pending: emptyTally(),
      epoch: 0,
      doneEpoch: 0,
    });
  }

  /** Stops tracking a partition; every handle issued for it so far becomes stale. */
  revoke(tp: TopicPartition): void {
    const key = tpKey(tp.topic, tp.partition);
    this.parts.delete(key);
    this.generations.set(key, (this.generations.get(key) ?? 0) + 1);
  }

  /** True while the partition is assigned (tracked). */
  owns(tp: TopicPartition): boolean {
    return this.parts.has(tpKey(tp.topic, tp.partition));
  }

  /** True while the partition with this tpKey is assigned. */
  ownsKey(key: string): boolean {
    return this.parts.has(key);
  }

  /** Partitions currently tracked. */
  partitions(): TopicPartition[] {
    return [...this.parts.values()].map((p) => ({ topic: p.topic, partition: p.partition }));
  }

  /**
   * Registers offsets delivered for one partition, in delivery order, as one segment. Returns null when the
   * partition is not assigned (the caller must not process those records for commit purposes).
   */
  track(tp: TopicPartition, offsets: ArrayLike<number>): SegmentHandle | null {
    if (offsets.length === 0) throw new RangeError("track() needs at least one offset");
    const p = this.parts.get(tpKey(tp.topic, tp.partition));
    if (!p) return null;
    const lastOffset = offsets[offsets.length - 1];
    const id = this.nextSegmentId++;
    p.queue.push({ id, epoch: p.epoch, lastOffset, done: false, tally: emptyTally() });
    return { topic: p.topic, partition: p.partition, generation: p.generation, lastOffset, count: offsets.length, id };
  }

  /**
   * Marks a segment fully processed. Returns false (and changes nothing) when the handle is stale because
   * the partition was revoked since it was issued.
   */
  complete(h: SegmentHandle, tally: Tally): boolean {
    const p = this.parts.get(tpKey(h.topic, h.partition));
    if (!p || p.generation !== h.generation) return false;
    // Segments of one partition are few (bounded by in-flight batches), so a scan is cheapest.
    const seg = p.queue.find((s) => s.id === h.id);
    if (!seg || seg.done) throw new Error(`offset tracker: segment ${h.id} of ${h.topic}[${h.partition}] is not open`);
    seg.done = true;
    seg.tally = tally;
    let popped = 0;
    while (popped < p.queue.length && p.queue[popped].done) {
      const s = p.queue[popped++];
      if (s.epoch !== p.doneEpoch) {
        // The first segment after a backward reset: the log's offsets start over, so does the position.
        p.doneThrough = s.lastOffset;
        p.doneEpoch = s.epoch;
        p.committed = -1;
      } else {
        // Max, not assignment: within an epoch the position never moves back.
        p.doneThrough = Math.max(p.doneThrough, s.lastOffset);
      }
      addTally(p.pending, s.tally);
    }
    if (popped) p.queue.splice(0, popped);
    return true;
  }

  /**
   * The partition's log moved backwards (offsets below those delivered before are being delivered):
   * segments tracked from now on belong to a new epoch whose done position replaces the old one.
   */
  rewind(tp: TopicPartition): void {
    const p = this.parts.get(tpKey(tp.topic, tp.partition));
    if (p) p.epoch++;
  }

  /** Number of segments of a partition that are tracked but not yet done. */
  openSegments(tp: TopicPartition): number {
    const p = this.parts.get(tpKey(tp.topic, tp.partition));
    return p ? p.queue.length : 0;
  }

  /**
   * The commits that would advance the group's position, for the given partitions (default: all tracked).
   * Handing one out moves the partition's pending tally into it; the caller reports the outcome with
   * `committed()` or `commitFailed()`. A partition with a commit still outstanding is skipped, so at most
   * one commit per partition is in flight and a later commit never races an earlier one.
   */
  takeCommits(only?: readonly TopicPartition[]): PendingCommit[] {
    const out: PendingCommit[] = [];
    const states = only ? only.map((tp) => this.parts.get(tpKey(tp.topic, tp.partition))) : [...this.parts.values()];
    for (const p of states) {
      if (!p || p.inFlight >= 0 || p.doneThrough < 0) continue;
      const next = p.doneThrough + 1;
      // Nothing new: tallies of re-delivered offsets (a rewind) ride along with the next real advance.
      if (next <= p.committed) continue;
      out.push({ topic: p.topic, partition: p.partition, offset: next, tally: p.pending, generation: p.generation, epoch: p.doneEpoch });
      p.pending = emptyTally();
      p.inFlight = next;
    }
    return out;
  }

  /** True when a commit handed out by takeCommits is not yet resolved for any partition. */
  hasCommitInFlight(): boolean {
    for (const p of this.parts.values()) if (p.inFlight >= 0) return true;
    return false;
  }

  /**
   * Records that a commit was acknowledged by the group coordinator. Returns the tally it made final
   * (empty when the partition was revoked meanwhile).
   */
  committed(c: PendingCommit): Tally {
    const p = this.parts.get(tpKey(c.topic, c.partition));
    if (!p || p.generation !== c.generation) return emptyTally();
    // A commit of an epoch that a backward reset has replaced since says nothing about the new position.
    if (c.epoch === p.doneEpoch) p.committed = Math.max(p.committed, c.offset);
    p.inFlight = -1;
    return c.tally;
  }

  /** Records that a commit failed: its tally goes back so that the next commit of the partition carries it. */
  commitFailed(c: PendingCommit): void {
    const p = this.parts.get(tpKey(c.topic, c.partition));
    if (!p || p.generation !== c.generation) return;
    addTally(p.pending, c.tally);
    p.inFlight = -1;
  }

  /** The last committed next-offset of a partition (-1 unknown / not assigned). */
  committedOffset(tp: TopicPartition): number {
    return this.parts.get(tpKey(tp.topic, tp.partition))?.committed ?? -1;
  }
}
