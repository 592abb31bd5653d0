/**
 * Two engines in one consumer group: the second joins mid-stream and later leaves. Nothing may be lost
 * (every offset processed, the committed end equals the high watermark), nothing duplicated except events of
 * batches abandoned at a revocation (which must not be committed), and no engine may ever commit a partition
 * it does not own at that moment.
 */
import { describe, expect, test } from "bun:test";
import { M } from "../../../shared/telemetry/names.ts";
import { observe } from "./fixtures/registry.ts";
import { OwnershipAudit, makeEngine, stuckStages, testStage, topologyFor, uniqueName } from "./support.ts";
import { committedOffsets, highWatermarks, kafkaSuite, pipelineTopics, produce, testRealOnly } from "../../../dev/support/kafka.ts";
import { waitFor } from "../../../dev/support/wait.ts";

const kafka = kafkaSuite();

const PARTITIONS = 8;
const N = 12_000;

describe("engine rebalance", () => {
  // librdkafka 2.15's mock cluster does not finish cooperative incremental rebalances reliably: in 2 of 3 runs
  // the joining member is never assigned anything within 60 s, and revocation commits are refused with
  // UNKNOWN_MEMBER_ID (seen from this session's first 2.15 commit on, before any engine change). The real
  // broker completes them in ~5 s with no refused commit, so that case is proven there.
  const MOCK_COOPERATIVE = "librdkafka 2.15's mock cluster stalls cooperative incremental rebalances (joining member never assigned)";
  for (const strategy of ["cooperative-sticky", "range"]) {
    const caseTest = strategy === "range" ? test : (name: string, fn: () => Promise<void>, ms: number) => testRealOnly(name, MOCK_COOPERATIVE, fn, ms);
    caseTest(`a member joining then leaving mid-stream loses and duplicates nothing (${strategy})`, async () => {
      const { topic, group } = await pipelineTopics(kafka(), PARTITIONS, "reb");
      await produce(kafka().bootstraps, topic, N, PARTITIONS);

      const topo = (sink: string) =>
        topologyFor({
          brokers: kafka().bootstraps,
          topic,
          group,
          // Slow enough that the stream lasts well beyond a group join (~3 s on the mock, longer on a real broker).
          stages: [testStage("recording-sink.ts", { id: sink, delayMs: 40 })],
          maxEvents: 50,
          inFlight: 2,
          properties: { "partition.assignment.strategy": strategy },
        });
      const sinkA = uniqueName("a");
      const sinkB = uniqueName("b");
      const auditA = new OwnershipAudit();
      const auditB = new OwnershipAudit();
      const a = await makeEngine(topo(sinkA), { workerId: 0, hooks: auditA.hooks });
      const b = await makeEngine(topo(sinkB), { workerId: 1, hooks: auditB.hooks });

      await a.engine.start();
      await waitFor(() => observe(sinkA).events.length >= 1_500, { timeoutMs: 60_000, what: "A under way" });
      await b.engine.start();
      await waitFor(() => observe(sinkB).events.length >= 1_000, { timeoutMs: 60_000, what: "B took over partitions and processed some" });
      expect(observe(sinkA).events.length).toBeLessThan(N); // B really joined mid-stream
      const progressB = await b.engine.stop(20_000);
      const seenCount = () => new Set([...observe(sinkA).events, ...observe(sinkB).events].map((e) => `${e.partition}:${e.offset}`)).size;
      await waitFor(() => seenCount() >= N, { timeoutMs: 90_000, what: "every offset processed" });
      await waitFor(() => a.engine.progress().events + progressB.events >= N, { timeoutMs: 30_000, what: "A committed the rest" });
      const progressA = await a.engine.stop(20_000);

      // Lost nothing: every offset processed at least once, and the committed end is the high watermark.
      const high = await highWatermarks(kafka(), topic, PARTITIONS);
      expect(high.reduce((x, y) => x + y, 0)).toBe(N);
      expect(await committedOffsets(kafka().bootstraps, group, topic, PARTITIONS)).toEqual(high);
      const all = [...observe(sinkA).events.map((e) => ({ ...e, by: auditA })), ...observe(sinkB).events.map((e) => ({ ...e, by: auditB }))];
      const byOffset = new Map<string, typeof all>();
      for (const e of all) {
        const k = `${e.partition}:${e.offset}`;
        const list = byOffset.get(k);
        if (list) list.push(e);
        else byOffset.set(k, [e]);
      }
      for (let p = 0; p < PARTITIONS; p++) for (let o = 0; o < high[p]; o++) expect(byOffset.has(`${p}:${o}`)).toBe(true);

      // Duplicated nothing that was committed: an offset may be processed again only if whoever processed it
      // before had NOT had a commit covering it acknowledged by then (an abandoned batch, or a revocation
      // whose final commit the coordinator refused).
      const committedTwice: string[] = [];
      for (const [k, list] of byOffset) {
        list.sort((x, y) => x.at - y.at);
        for (let i = 1; i < list.length; i++) {
          if (list[i - 1].by.committedBeyond(list[i - 1].partition, list[i - 1].offset, list[i].at)) committedTwice.push(k);
        }
      }
      expect(committedTwice).toEqual([]);
      const duplicates = all.length - byOffset.size;
      const abandoned = a.metrics.value(M.batchesAbandoned) + b.metrics.value(M.batchesAbandoned);
      // With a 20 s revocation budget and 40 ms batches nothing should have been abandoned.
      expect(abandoned).toBe(0);
      // And when every revocation could commit (no assignment lost, no refused sync commit), nothing at all
      // is processed twice. librdkafka < 2.10 may still lose an assignment when a commit races its own
      // rejoin (issue #4059; see shared/runtime/engine/committer.ts): then duplicates are allowed, but only
      // of uncommitted offsets (checked above).
      const refused = auditA.lostRevocations + auditB.lostRevocations + auditA.failedSyncCommits + auditB.failedSyncCommits;
      if (refused === 0) expect(duplicates).toBe(0);
      else console.warn(`[rebalance ${strategy}] ${refused} revocation(s) lost or refused by the coordinator: ${duplicates} uncommitted event(s) re-processed`);
      // Progress counts each committed event once across the two members.
      expect(progressA.events + progressB.events).toBe(N);
      expect(progressA.persisted + progressB.persisted).toBe(N);

      // The rebalance really moved partitions, and no commit ever targeted a partition not owned.
      expect(auditB.commits.length).toBeGreaterThan(0);
      expect(auditA.violations).toEqual([]);
      expect(auditB.violations).toEqual([]);
    }, 180_000);
  }

  test("a batch that cannot finish by the revocation deadline is abandoned, never committed, and re-processed by the new owner", async () => {
    const { topic, group } = await pipelineTopics(kafka(), 4, "stuck");
    const n = 400;
    await produce(kafka().bootstraps, topic, n, 4);
    const stuck = uniqueName("stuck");
    const sinkB = uniqueName("b");
    const auditA = new OwnershipAudit();
    const auditB = new OwnershipAudit();
    // Eager protocol: the revocation takes every partition, so A's stuck batch is wholly revoked.
    const props = { "partition.assignment.strategy": "range" };
    const a = await makeEngine(
      topologyFor({
        brokers: kafka().bootstraps,
        topic,
        group,
        stages: stuckStages(stuck),
        inFlight: 1,
        maxEvents: 100,
        deadlineMs: 1_000,
        properties: props,
      }),
      { workerId: 0, hooks: auditA.hooks, backoff: { initialMs: 50, maxMs: 100 } },
    );
    const b = await makeEngine(
      topologyFor({ brokers: kafka().bootstraps, topic, group, stages: [testStage("recording-sink.ts", { id: sinkB })], properties: props }),
      { workerId: 1, hooks: auditB.hooks },
    );
    await a.engine.start();
    await waitFor(() => observe(stuck).failures >= 3, { timeoutMs: 30_000, what: "A stuck retrying" });
    const stuckEvents = [...observe(stuck).events];
    await b.engine.start();
    await waitFor(() => a.metrics.value(M.batchesAbandoned) >= 1, { timeoutMs: 30_000, what: "A abandoned its batch at the revocation" });
    // B re-processes the abandoned batch's offsets of every partition it now owns, and commits them.
    await waitFor(() => auditB.owned.size > 0 && observe(sinkB).events.length > 0, { timeoutMs: 30_000, what: "B owns partitions and works" });
    const ownedByB = () => new Set([...auditB.owned].map((k) => Number(k.split("/")[1])));
    const seenByB = () => new Set(observe(sinkB).events.map((e) => `${e.partition}:${e.offset}`));
    await waitFor(
      () => stuckEvents.filter((e) => ownedByB().has(e.partition)).every((e) => seenByB().has(`${e.partition}:${e.offset}`)),
      { timeoutMs: 30_000, what: "B re-processed the abandoned offsets" },
    );
    await b.engine.stop(10_000);
    await a.engine.stop(1_000);
    // A never completed a batch, so it must never have had a commit acknowledged, and never for a partition it lost.
    expect(auditA.acknowledged).toEqual([]);
    expect(auditA.violations).toEqual([]);
    expect(auditB.violations).toEqual([]);
    expect(stuckEvents.length).toBeGreaterThan(0);
  }, 120_000);
});
