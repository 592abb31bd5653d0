/**
 * Dead-letter records: the ORIGINAL key, value and headers of each rejected event (byte for byte, so it can
 * be replayed after a fix), plus `topofleet-*` headers that say who rejected it, why, and where it came from.
 */
import type { Batch } from "../../stages/batch.ts";
import type { ProduceRecord } from "../../kafka/types.ts";

/** Header names added to every dead letter. */
export const DLQ_HEADERS = {
  code: "topofleet-error-code",
  reason: "topofleet-error-reason",
  stage: "topofleet-error-stage",
  topic: "topofleet-source-topic",
  partition: "topofleet-source-partition",
  offset: "topofleet-source-offset",
  worker: "topofleet-worker",
  failedAt: "topofleet-failed-at",
} as const;

/** The dead-letter records of a batch's rejected events, in record order. */
export function deadLetterRecords(batch: Batch, topic: string, workerId: number, failedAt: Date = new Date()): ProduceRecord[] {
  const out: ProduceRecord[] = [];
  if (batch.rejections.size === 0) return out;
  const r = batch.records;
  const at = failedAt.toISOString();
  const indexes = [...batch.rejections.keys()].sort((a, b) => a - b);
  for (const i of indexes) {
    const why = batch.rejections.get(i)!;
    const headers: Array<[string, Uint8Array | string | null]> = r.headers[i] ? [...r.headers[i]!] : [];
    headers.push(
      [DLQ_HEADERS.code, why.code],
      [DLQ_HEADERS.reason, why.reason],
      [DLQ_HEADERS.stage, why.stage],
      [DLQ_HEADERS.topic, r.topics[r.topicIndex[i]]],
      [DLQ_HEADERS.partition, String(r.partitions[i])],
      [DLQ_HEADERS.offset, String(r.offsets[i])],
      [DLQ_HEADERS.worker, String(workerId)],
      [DLQ_HEADERS.failedAt, at],
    );
    out.push({ topic, key: batch.key(i), value: batch.value(i), headers });
  }
  return out;
}
