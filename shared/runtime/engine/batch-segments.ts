/**
 * How a batch maps onto partitions: its records grouped per partition (in delivery order, for the offset
 * tracker), the outcome tally of one partition's share, and re-packing a subset of records.
 */
import type { TopicPartition } from "../../kafka/types.ts";
import { EventStatus, type RecordBatch } from "../../stages/batch.ts";
import { packRecords, recordHeaders, type RecordInput } from "../../stages/records.ts";
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
  let g: PartitionGroup | undefined;
  let lastTopic = -1;
  let lastPartition = -1;
  for (let i = 0; i < r.size; i++) {
    const partition = r.partitions[i];
    // Records come in runs per partition: the group is looked up only when the partition changes.
    if (r.topicIndex[i] !== lastTopic || partition !== lastPartition) {
      lastTopic = r.topicIndex[i];
      lastPartition = partition;
      const topic = r.topics[lastTopic];
      const key = tpKey(topic, partition);
      g = groups.get(key);
      if (!g) groups.set(key, (g = { tp: { topic, partition }, offsets: [], indexes: [] }));
    }
    g!.offsets.push(r.offsets[i]);
    g!.indexes.push(i);
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
    else if (s === EventStatus.Filtered) t.filtered++;
  }
  return t;
}

/** The records of partitions `keep(key)` accepts, re-packed; the input itself when all are kept, null when none. */
export function selectPartitions(r: RecordBatch, keep: (key: string) => boolean): RecordBatch | null {
  const verdict = new Map<string, boolean>();
  let lastTopic = -1;
  let lastPartition = -1;
  let ok = false;
  let all = true;
  for (let i = 0; i < r.size; i++) {
    // Records come in runs per partition: the verdict is looked up only when the partition changes.
    if (r.topicIndex[i] === lastTopic && r.partitions[i] === lastPartition) continue;
    lastTopic = r.topicIndex[i];
    lastPartition = r.partitions[i];
    const key = tpKey(r.topics[lastTopic], lastPartition);
    let v = verdict.get(key);
    if (v === undefined) verdict.set(key, (v = keep(key)));
    if (!v) {
      all = false;
      break;
    }
  }
  // The common case: every partition is kept, and no record needs to be looked at again.
  if (all) return r;
  const kept: number[] = [];
  lastTopic = -1;
  for (let i = 0; i < r.size; i++) {
    if (r.topicIndex[i] !== lastTopic || r.partitions[i] !== lastPartition) {
      lastTopic = r.topicIndex[i];
      lastPartition = r.partitions[i];
      const key = tpKey(r.topics[lastTopic], lastPartition);
      let v = verdict.get(key);
      if (v === undefined) verdict.set(key, (v = keep(key)));
      ok = v;
    }
    if (ok) kept.push(i);
  }
  if (kept.length === 0) return null;
  const inputs: RecordInput[] = kept.map((i) => ({
    topic: r.topics[r.topicIndex[i]],
    partition: r.partitions[i],
    offset: r.offsets[i],
    timestamp: r.timestamps[i],
    key: r.keyNull[i] ? null : r.keys.subarray(r.keyStarts[i], r.keyStarts[i + 1]),
    value: r.valueNull[i] ? null : r.values.subarray(r.valueStarts[i], r.valueStarts[i + 1]),
    headers: recordHeaders(r, i),
  }));
  return packRecords(inputs);
}
