import { describe, expect, test } from "bun:test";
import { Consumer, Producer, type RebalanceEvent } from "../../shared/kafka/index.ts";
import { consumerConfig, uniqueName } from "./helpers.ts";
import { waitFor } from "../../dev/support/wait.ts";
import { kafkaSuite, testRealOnly } from "../../dev/support/kafka.ts";

const kafka = kafkaSuite();

async function fill(topic: string, partitions: number, perPartition: number): Promise<void> {
  const producer = new Producer({ config: { "bootstrap.servers": kafka().bootstraps, "linger.ms": "5" } });
  const recs = [];
  for (let p = 0; p < partitions; p++) for (let i = 0; i < perPartition; i++) recs.push({ topic, partition: p, value: `${p}:${i}` });
  await producer.sendBatch(recs);
  await producer.close();
}

/**
 * A group member that counts a message as processed only once a commit covering it succeeded (the
 * pipeline's rule: commit after durable). It commits after every batch; on revocation it tries a final
 * commit of the revoked partitions and forgets what stays uncommitted (the next owner reads it again).
 *
 * Why not "commit in the revocation handler and count at delivery": librdkafka's mock coordinator rejects
 * every OffsetCommit while the group is re-joining (REBALANCE_IN_PROGRESS, rdkafka_mock_cgrp.c), which a
 * real broker accepts from the current generation; counting at commit success is exact on both.
 */
class Member {
  readonly consumer: Consumer;
  readonly events: RebalanceEvent[] = [];
  readonly errors: Error[] = [];
  /** Messages of a partition (by "topic:partition") that were delivered but are not yet covered by a commit. */
  private readonly pending = new Map<string, number[]>();
  private readonly owned = new Set<string>();
  /** Deliveries of a partition this member did not own at that moment. */
  violations = 0;
  private running = true;
  private loop: Promise<void> = Promise.resolve();
  /**
   * Read slowly (small batches, long pauses) so a rebalance happens while there is still data to read: a
   * real broker delivers the whole topic in well under the time a second member needs to join.
   */
  slow = false;

  constructor(
    readonly name: string,
    config: Record<string, string>,
    private readonly sink: (partition: number, offset: number, member: string) => void,
  ) {
    this.consumer = new Consumer({
      config,
      onError: (e) => this.errors.push(e),
      onRebalance: async (e) => {
        this.events.push(e);
        const keys = e.partitions.map((p) => `${p.topic}:${p.partition}`);
        if (e.type === "assigned") {
          for (const k of keys) this.owned.add(k);
          return;
        }
        for (const k of keys) this.owned.delete(k);
        if (!e.lost) await this.commitPending(keys).catch(() => undefined);
        for (const k of keys) this.pending.delete(k);
      },
    });
  }

  /** Commits the next offsets of `keys`' pending messages; on success they count as processed. */
  private async commitPending(keys: string[]): Promise<void> {
    const offsets = [];
    const covered: Array<[string, number]> = [];
    for (const k of keys) {
      const list = this.pending.get(k);
      if (!list || list.length === 0) continue;
      const [topic, partition] = [k.slice(0, k.lastIndexOf(":")), Number(k.slice(k.lastIndexOf(":") + 1))];
      const next = list[list.length - 1] + 1;
      offsets.push({ topic, partition, offset: next });
      covered.push([k, next]);
    }
    if (offsets.length === 0) return;
    await this.consumer.commit(offsets);
    for (const [k, next] of covered) {
      const list = this.pending.get(k) ?? [];
      const done = list.filter((o) => o < next);
      this.pending.set(k, list.filter((o) => o >= next));
      const partition = Number(k.slice(k.lastIndexOf(":") + 1));
      for (const o of done) this.sink(partition, o, this.name);
    }
  }

  start(topic: string): void {
    this.consumer.subscribe([topic]);
    this.loop = (async () => {
      while (this.running) {
        const b = await this.consumer.consume(this.slow ? 50 : 500, 100);
        for (const m of b.messages) {
          const k = `${m.topic}:${m.partition}`;
          if (!this.owned.has(k)) this.violations++;
          if (!this.pending.has(k)) this.pending.set(k, []);
          this.pending.get(k)!.push(m.offset);
        }
        b.release();
        // A failed commit (rebalance in progress, generation moved on) leaves the messages pending for the
        // next round.
        await this.commitPending([...this.pending.keys()]).catch(() => undefined);
        await Bun.sleep(this.slow ? 100 : 5);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.consumer.close();
  }
}

for (const strategy of ["range", "cooperative-sticky"] as const) {
  describe(`consumer group (${strategy})`, () => {
    test("two members split the partitions; the rebalance loses and duplicates nothing", async () => {
      const topic = uniqueName("grp");
      const partitions = 6;
      const perPartition = 4000;
      await kafka().createTopic(topic, partitions);
      await fill(topic, partitions, perPartition);

      const seen = new Map<string, number>();
      const byMember = new Map<string, Set<number>>();
      const sink = (partition: number, offset: number, member: string) => {
        const key = `${partition}:${offset}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        if (!byMember.has(member)) byMember.set(member, new Set());
        byMember.get(member)!.add(partition);
      };
      const group = uniqueName("g");
      const config = consumerConfig(kafka().bootstraps, group, { "partition.assignment.strategy": strategy });
      const a = new Member("a", config, sink);
      a.start(topic);
      await waitFor(() => seen.size > 2000, { timeoutMs: 30_000, what: "member a to start consuming" });
      a.slow = true;
      const b = new Member("b", config, sink);
      b.start(topic);
      await waitFor(() => b.events.some((e) => e.type === "assigned" && e.partitions.length > 0), { timeoutMs: 60_000, what: "b to be assigned partitions" });
      a.slow = false;
      await waitFor(() => seen.size === partitions * perPartition, { timeoutMs: 60_000, what: "all messages" });
      await Bun.sleep(300); // let any duplicate that would follow show up
      await a.stop();
      await b.stop();

      const duplicates = [...seen.values()].filter((n) => n > 1).length;
      expect(seen.size).toBe(partitions * perPartition);
      expect(duplicates).toBe(0);
      expect(a.violations + b.violations).toBe(0);
      // Both members owned partitions after the rebalance.
      expect(byMember.get("b")?.size ?? 0).toBeGreaterThan(0);
      const expectedProtocol = strategy === "cooperative-sticky" ? "cooperative" : "eager";
      expect(a.events.some((e) => e.type === "revoked" && e.protocol === expectedProtocol)).toBe(true);
      expect(b.events.some((e) => e.type === "assigned" && e.partitions.length > 0)).toBe(true);
      expect(a.errors.filter((e) => !/transport|brokers are down/i.test(e.message))).toEqual([]);
    }, 120_000);
  });
}

// On librdkafka 2.15's mock cluster the member that kept its partitions now and then receives nothing for 10 s
// and more after an incremental revoke (once in about six CI runs; on the real broker it resumes within
// milliseconds), the same mock stall that keeps the engine's cooperative rebalance test on the real broker.
const MOCK_COOPERATIVE_STALL = "librdkafka 2.15's mock cluster now and then stalls the kept partitions after a cooperative incremental revoke";

describe("cooperative-sticky incremental rebalance", () => {
  testRealOnly("a member gives up only the partitions the newcomer takes and keeps consuming the others", MOCK_COOPERATIVE_STALL, async () => {
    const topic = uniqueName("coop");
    await kafka().createTopic(topic, 6);
    await fill(topic, 6, 4000);
    const group = uniqueName("g");
    const config = consumerConfig(kafka().bootstraps, group, { "partition.assignment.strategy": "cooperative-sticky" });
    const mk = () => {
      const events: Array<RebalanceEvent & { at: number }> = [];
      const seen: Array<{ partition: number; at: number }> = [];
      const consumer = new Consumer({ config, onRebalance: (e) => void events.push({ ...e, at: Date.now() }) });
      consumer.subscribe([topic]);
      let running = true;
      // Slow on purpose (no commits): the rebalance must happen while there is data left.
      const loop = (async () => {
        while (running) {
          const b = await consumer.consume(50, 100);
          for (const m of b.messages) seen.push({ partition: m.partition, at: Date.now() });
          b.release();
          await Bun.sleep(20);
        }
      })();
      return { consumer, events, seen, stop: async () => ((running = false), await loop, await consumer.close()) };
    };
    const a = mk();
    await waitFor(() => a.seen.length > 500, { timeoutMs: 30_000, what: "a consuming" });
    const b = mk();
    await waitFor(() => b.events.some((e) => e.type === "assigned" && e.partitions.length > 0), { timeoutMs: 60_000, what: "b assigned" });
    const revoke = a.events.find((e) => e.type === "revoked")!;
    // Time for a to show it kept consuming its other partitions (a loaded 2-core machine needs more than 1 s).
    await waitFor(() => a.seen.some((s) => s.at > revoke.at && !revoke.partitions.some((p) => p.partition === s.partition)), { timeoutMs: 10_000, what: "a consuming a kept partition" });
    await Bun.sleep(500);
    await b.stop();
    await a.stop();

    expect(revoke.protocol).toBe("cooperative");
    expect(revoke.lost).toBeUndefined();
    expect(revoke.partitions.length).toBeGreaterThan(0);
    expect(revoke.partitions.length).toBeLessThan(6);
    const revoked = new Set(revoke.partitions.map((p) => p.partition));
    const kept = [0, 1, 2, 3, 4, 5].filter((p) => !revoked.has(p));
    // a kept receiving messages of the partitions it kept after giving the others up...
    expect(a.seen.some((s) => s.at > revoke.at && kept.includes(s.partition))).toBe(true);
    // ...and never one of the partitions it gave up (until its own close revoked the rest).
    const closeRevoke = a.events.filter((e) => e.type === "revoked")[1]?.at ?? Infinity;
    expect(a.seen.filter((s) => s.at > revoke.at && s.at < closeRevoke && revoked.has(s.partition))).toEqual([]);
    const bTook = new Set(b.events.filter((e) => e.type === "assigned").flatMap((e) => e.partitions.map((p) => p.partition)));
    expect([...revoked].every((p) => bTook.has(p))).toBe(true);
  }, 120_000);
});
