/**
 * How a batch maps onto partitions: its records grouped per partition (in delivery order, for the offset
 * tracker), the outcome tally of one partition's share, and re-packing a subset of records.
 */
import type { TopicPartition } from "../../kafka/types.ts";
import { EventStatus, type RecordBatch } from "../../stages/batch.ts";
import { packRecords, type RecordInput } from "../../stages/records.ts";
import { emptyTally, tpKey, type Tally } from "./offset-tracker.ts";

/** One partition's records of a batch: offsets in delivery order and their record indexes. */
export interface PartitionGroup {
  tp: TopicPartition;
  offsets: number[];
  indexes: number[];
}

/** Groups a batch's records by partition (keyed by tpKey), keeping delivery order within each group. */
export function groupByPartition(r: RecordBatch): Map<string, PartitionGroup> {
  const groups = new Map<string, PartitionGroup>();
  for (let i = 0; i < r.size; i++) {
    const topic = r.topics[r.topicIndex[i]];
    const partition = r.partitions[i];
    const key = tpKey(topic, partition);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { tp: { topic, partition }, offsets: [], indexes: [] }));
    g.offsets.push(r.offsets[i]);
    g.indexes.push(i);
  }
  return groups;
}

/** Outcome counts of the given records of a settled batch. */
export function tallyOf(status: Uint8Array, indexes: readonly number[]): Tally {
  const t = emptyTally();
  for (const i of indexes) {
    t.events++;
    const s = status[i];
    if (s === EventStatus.Persisted) t.persisted++;
    else if (s === EventStatus.Duplicate) t.duplicates++;
    else if (s === EventStatus.DeadLettered) t.invalid++;
  }
  return t;
}

/** The records of partitions `keep(key)` accepts, re-packed; the input itself when all are kept, null when none. */
export function selectPartitions(r: RecordBatch, keep: (key: string) => boolean): RecordBatch | null {
  const verdict = new Map<string, boolean>();
  const kept: number[] = [];
  for (let i = 0; i < r.size; i++) {
    const key = tpKey(r.topics[r.topicIndex[i]], r.partitions[i]);
    let ok = verdict.get(key);
    if (ok === undefined) verdict.set(key, (ok = keep(key)));
    if (ok) kept.push(i);
  }
  if (kept.length === r.size) return r;
  if (kept.length === 0) return null;
  const inputs: RecordInput[] = kept.map((i) => ({
    topic: r.topics[r.topicIndex[i]],
    partition: r.partitions[i],
    offset: r.offsets[i],
    timestamp: r.timestamps[i],
    key: r.keyNull[i] ? null : r.keys.subarray(r.keyStarts[i], r.keyStarts[i + 1]),
    value: r.valueNull[i] ? null : r.values.subarray(r.valueStarts[i], r.valueStarts[i + 1]),
    headers: r.headers[i],
  }));
  return packRecords(inputs);
}
