/**
 * Reading a scenario's dead-letter topic: every message copied out of librdkafka's memory, deduplicated by
 * the source record it stands for (the DLQ is at-least-once: a replayed batch dead-letters its invalid events
 * again), and tallied for the audit.
 */
import { emptyTally, tallyDeadLetter, type DeadLetterTally } from "../../../shared/audit/index.ts";
import { detachMessage, type ConsumedMessage, type KafkaConfig } from "../../../shared/kafka/index.ts";
import type { PartitionWatermarks } from "../../../shared/audit/index.ts";
import { readWholeTopic } from "../../../shared/topic-reader/topic.ts";
import { DLQ_HEADERS } from "../../../shared/runtime/engine/dead-letter.ts";

/** The DLQ of one run. */
export interface DeadLetters {
  /** One message per dead-lettered source record (topic/partition/offset), first copy, in DLQ order. */
  distinct: ConsumedMessage[];
  /** Further copies of source records already in `distinct`. */
  copies: number;
  /** The audit's tally of `distinct` for the run. */
  tally: DeadLetterTally;
  watermarks: PartitionWatermarks[];
}

/** Reads the whole DLQ topic as it is now (see the module doc). */
export async function readDeadLetters(config: KafkaConfig, topic: string, runId: string): Promise<DeadLetters> {
  const distinct: ConsumedMessage[] = [];
  const seen = new Set<string>();
  let copies = 0;
  const tally = emptyTally();
  const { watermarks } = await readWholeTopic({
    config,
    topic,
    onBatch: (ms) => {
      for (const m of ms) {
        const copy = detachMessage(m);
        const origin = `${headerText(copy, DLQ_HEADERS.topic)}/${headerText(copy, DLQ_HEADERS.partition)}/${headerText(copy, DLQ_HEADERS.offset)}`;
        if (seen.has(origin)) {
          copies++;
          continue;
        }
        seen.add(origin);
        distinct.push(copy);
        tallyDeadLetter(tally, runId, copy);
      }
    },
  });
  return { distinct, copies, tally, watermarks };
}

/** A header of a consumed message as text (null when absent). */
export function headerText(m: ConsumedMessage, name: string): string | null {
  const h = m.headers?.find(([k]) => k === name);
  return h?.[1] ? new TextDecoder().decode(h[1]) : null;
}

/** The `topofleet-error-*` headers of a dead letter. */
export function rejectionOf(m: ConsumedMessage): { code: string | null; reason: string | null; stage: string | null } {
  return { code: headerText(m, DLQ_HEADERS.code), reason: headerText(m, DLQ_HEADERS.reason), stage: headerText(m, DLQ_HEADERS.stage) };
}
