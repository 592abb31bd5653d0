/** The topics of a pipeline test with a Kafka sink: a fresh input, output and dead-letter topic, and a group. */
import type { TestKafka } from "../../../dev/support/kafka.ts";
import { uniqueName } from "../../../dev/support/services.ts";

/** Creates the input (`topic`), output (`out`) and `<topic>.dlq` topics with `partitions` partitions (the DLQ one). */
export async function sinkTopics(kafka: TestKafka, partitions: number): Promise<{ topic: string; out: string; group: string }> {
  const topic = uniqueName("in");
  const out = uniqueName("out");
  await kafka.createTopic(topic, partitions);
  await kafka.createTopic(out, partitions);
  await kafka.createTopic(`${topic}.dlq`, 1);
  return { topic, out, group: uniqueName("grp") };
}
