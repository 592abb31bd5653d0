/**
 * A dead letter the broker refuses even as a reference, on the real broker (a topic's max.message.bytes is a
 * broker setting): the batch's partition stops with the problem on /readyz and nothing past the refused
 * record is committed. Shrinking to a reference is covered on the real broker by the poison suite.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { committedOffsets, produce, REAL_BROKERS, startTestKafka, type TestKafka } from "../../../dev/support/kafka.ts";
import { makeEngine, testStage, topologyFor, uniqueName } from "./support.ts";
import { waitFor } from "../../../dev/support/wait.ts";

if (REAL_BROKERS) {
  describe("dead letters the broker refuses", () => {
    let kafka: TestKafka;
    beforeAll(async () => {
      kafka = await startTestKafka();
    });
    afterAll(() => kafka.stop());

    test("a reference refused too stops the partition with a clear /readyz detail and nothing past it is committed", async () => {
      const topic = uniqueName("dlqlimit");
      const dlq = `${topic}.dlq`;
      await kafka.createTopic(topic, 2);
      // Smaller than any dead letter's topofleet-* headers: even the reference is refused (MSG_SIZE_TOO_LARGE).
      await kafka.createTopic(dlq, 1, { "max.message.bytes": "200" });
      const group = uniqueName("grp");
      // The rejecter (every: 1000) rejects offset 0 of each partition; 20 records per partition.
      await produce(kafka.bootstraps, topic, 40, 2, (i) => ({ value: `v${i}`, key: `k${i}` }));
      const { engine } = await makeEngine(
        topologyFor({
          brokers: kafka.bootstraps,
          topic,
          group,
          dlq,
          inFlight: 1,
          stages: [testStage("rejecting-stage.ts", { id: uniqueName("rej"), every: 1000 }, "rejecter"), testStage("recording-sink.ts", { id: uniqueName("sink") })],
        }),
        { backoff: { initialMs: 50, maxMs: 200 } },
      );
      await engine.start();
      try {
        let detail = "";
        await waitFor(
          async () => {
            const r = await engine.readiness();
            detail = r.detail ?? "";
            return !r.ready && detail.startsWith("partition stopped");
          },
          { timeoutMs: 60_000, what: "readiness reports the stopped partition" },
        );
        expect(detail).toContain("refused as too large even as a reference");
        expect(detail).toContain(`${topic}/`);
        expect(detail).toContain("max.message.bytes");
        // Offset 0 of each partition is rejected and cannot be dead-lettered: nothing of its batch is committed.
        const committed = await committedOffsets(kafka.bootstraps, group, topic, 2);
        for (const c of committed) expect(c).toBeLessThanOrEqual(0);
      } finally {
        await engine.stop(5_000).catch(() => undefined);
      }
    }, 120_000);
  });
} else {
  // CI runs this file in its real-broker part (`bun run test:kafka` with KAFKA_BROKERS).
  console.warn("[skip] dead letters the broker refuses: a topic's max.message.bytes needs the real broker; set KAFKA_BROKERS");
}
