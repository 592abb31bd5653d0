/**
 * Outcome counts that survive a lost worker: every offset commit carries, as its commit metadata, the
 * partition's cumulative tally (events, persisted, duplicates, invalid) up to that offset. Kafka stores the
 * two atomically, so whoever owns the partition next reads the exact count of everything committed before,
 * including what a worker killed with `kill -9` committed but never reported. The engine reads it at
 * assignment (the base), adds each acknowledged commit's tally, and reports both positions; the supervisor
 * sums, per partition, the newest position minus the oldest base it has heard of (fleet-progress.ts).
 */
import type { TopicPartition, TopicPartitionOffset } from "../../kafka/types.ts";
import { addTally, emptyTally, tpKey, type Tally } from "./offset-tracker.ts";

/** A committed position and the cumulative tally of everything before it. */
export interface LedgerPosition {
  /** Next offset to consume; -1001 when the group has no committed offset. */
  offset: number;
  tally: Tally;
}

/** What a worker reports per partition it has owned. */
export interface PartitionProgress extends TopicPartition {
  /** The committed position when this process was (first) assigned the partition. */
  base: LedgerPosition;
  /** The newest position this process knows to be committed. */
  committed: LedgerPosition;
}

const PREFIX = "tf1:";

/**
 * Commit metadata of a cumulative tally: `tf1:<events>,<persisted>,<duplicates>,<invalid>[,<filtered>]`. The
 * filtered count is appended only when non-zero, so groups without a filter keep the four-number form older
 * workers read, and metadata written before filters existed decodes with filtered 0.
 */
export function encodeTally(t: Tally): string {
  return `${PREFIX}${t.events},${t.persisted},${t.duplicates},${t.invalid}${t.filtered ? `,${t.filtered}` : ""}`;
}

/** The tally in commit metadata, or null when there is none (a new group, or offsets committed by another tool). */
export function decodeTally(metadata: string | undefined): Tally | null {
  if (!metadata?.startsWith(PREFIX)) return null;
  const n = metadata.slice(PREFIX.length).split(",").map(Number);
  if ((n.length !== 4 && n.length !== 5) || !n.every((x) => Number.isSafeInteger(x) && x >= 0)) return null;
  return { events: n[0], persisted: n[1], duplicates: n[2], invalid: n[3], filtered: n[4] ?? 0 };
}

/** Per-partition cumulative tallies of one worker process. */
export class PartitionLedger {
  private readonly parts = new Map<string, PartitionProgress>();
  /** Assigned partitions whose committed position is being read. */
  private readonly reading = new Set<string>();

  /** Partitions were assigned: their commits wait until assigned() (or readFailed()) gives their position. */
  startReading(tps: readonly TopicPartition[]): void {
    for (const tp of tps) this.reading.add(tpKey(tp.topic, tp.partition));
  }

  /** The committed position could not be read: keep what this process knew, else count from zero. */
  readFailed(tp: TopicPartition): void {
    const key = tpKey(tp.topic, tp.partition);
    if (this.parts.has(key)) this.reading.delete(key);
    else this.assigned({ ...tp, offset: -1001 });
  }

  /** A partition was assigned; `c` is the group's committed offset with its metadata. */
  assigned(c: TopicPartitionOffset): void {
    const position = { offset: c.offset, tally: decodeTally(c.metadata) ?? emptyTally() };
    const key = tpKey(c.topic, c.partition);
    this.reading.delete(key);
    const known = this.parts.get(key);
    // Another owner may have committed since this process last held it: the committed position is fresh.
    if (known) known.committed = position;
    else this.parts.set(key, { topic: c.topic, partition: c.partition, base: position, committed: { ...position, tally: { ...position.tally } } });
  }

  /** True once the partition's committed position is known (commits of it may carry metadata). */
  knows(tp: TopicPartition): boolean {
    const key = tpKey(tp.topic, tp.partition);
    return this.parts.has(key) && !this.reading.has(key);
  }

  /** The metadata of a commit that adds `tally` to the partition's committed count. */
  metadataFor(tp: TopicPartition, tally: Tally): string | undefined {
    const p = this.parts.get(tpKey(tp.topic, tp.partition));
    return p ? encodeTally(addTally({ ...p.committed.tally }, tally)) : undefined;
  }

  /** A commit of `offset` carrying `tally` more than the last one was acknowledged. */
  acknowledged(tp: TopicPartition, offset: number, tally: Tally): void {
    const p = this.parts.get(tpKey(tp.topic, tp.partition));
    if (!p) return;
    p.committed = { offset, tally: addTally({ ...p.committed.tally }, tally) };
  }

  /** Every partition this process has owned, with its base and newest committed position. */
  report(): PartitionProgress[] {
    return [...this.parts.values()].map((p) => ({ ...p, base: { ...p.base }, committed: { ...p.committed } }));
  }
}
