/** Reads the dead-letter topic to its current end and tallies it for one run (the audit's DLQ evidence). */
import type { KafkaConfig } from "../kafka/types.ts";
import { readWholeTopic } from "../topic-reader/topic.ts";
import { emptyTally, tallyDeadLetter, type DeadLetterTally } from "./dead-letters.ts";
import type { PartitionWatermarks } from "./retention.ts";

/** The tally of `runId` over every message of `topic`, and the watermarks it was read between. */
export async function readDeadLetterTopic(o: {
  config: KafkaConfig;
  topic: string;
  runId: string;
}): Promise<{ tally: DeadLetterTally; watermarks: PartitionWatermarks[] }> {
  const tally = emptyTally();
  const { watermarks } = await readWholeTopic({
    config: o.config,
    topic: o.topic,
    onBatch: (messages) => {
      for (const m of messages) tallyDeadLetter(tally, o.runId, m);
    },
  });
  return { tally, watermarks };
}
