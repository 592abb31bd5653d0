/**
 * Replay planning and range reading on the mock cluster: time windows map to the right offsets, a dry run
 * counts exactly, and readRanges delivers exactly [start, end) of each partition.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Consumer, MockCluster, Producer } from "../../shared/kafka/index.ts";
import { planReplay, readRanges, runReplay, parseTimestamp } from "../../shared/replay/index.ts";
import { createLogger } from "../../shared/telemetry/logger.ts";
import { parseTopology } from "../../shared/topology/index.ts";
import { uniqueName } from "../../dev/support/services.ts";
import { ConfigError } from "../../shared/errors/index.ts";

const T1 = Date.UTC(2024, 0, 1, 10);
const T2 = Date.UTC(2024, 0, 1, 11);
const T3 = Date.UTC(2024, 0, 1, 12);

describe("replay plan and range reader", () => {
  let mock: MockCluster;
  let topic: string;

  beforeAll(async () => {
    mock = await MockCluster.start({ brokers: 1 });
    topic = uniqueName("rp_plan");
    mock.createTopic(topic, 2);
    const producer = new Producer({ config: { "bootstrap.servers": mock.bootstraps } });
    // Per partition: 50 records at T1, 100 at T2, 25 at T3 (in that order, so offsets follow time).
    for (const [ts, n] of [
      [T1, 50],
      [T2, 100],
      [T3, 25],
    ] as const) {
      await producer.sendBatch(Array.from({ length: 2 * n }, (_, i) => ({ topic, partition: i % 2, value: `${ts}-${i}`, timestamp: ts })));
    }
    await producer.close();
  });
  afterAll(async () => {
    await mock.stop();
  });

  const consumer = () => new Consumer({ config: { "bootstrap.servers": mock.bootstraps, "group.id": uniqueName("rp_g"), "auto.offset.reset": "earliest" } });

  test("a time window maps to [first offset at from, first offset at to) per partition", async () => {
    const c = consumer();
    try {
      const whole = await planReplay(c, { "bootstrap.servers": mock.bootstraps }, topic, [0, 1], { from: null, to: null });
      expect(whole.messages).toBe(350);
      const mid = await planReplay(c, { "bootstrap.servers": mock.bootstraps }, topic, [0, 1], { from: T2, to: T3 });
      expect(mid.ranges).toEqual([
        { partition: 0, start: 50, end: 150 },
        { partition: 1, start: 50, end: 150 },
      ]);
      expect(mid.messages).toBe(200);
      const tail = await planReplay(c, { "bootstrap.servers": mock.bootstraps }, topic, [0, 1], { from: T3 + 1, to: null });
      expect(tail.messages).toBe(0); // nothing at or after from: the range is empty at the end
    } finally {
      await c.close();
    }
  }, 60_000);

  test("readRanges delivers exactly the messages in the ranges", async () => {
    const c = consumer();
    try {
      c.subscribe([topic]);
      const seen: string[] = [];
      const n = await readRanges({
        consumer: c,
        topic,
        ranges: [
          { partition: 0, start: 0, end: 10 },
          { partition: 1, start: 0, end: 175 },
        ],
        onBatch: (ms) => {
          for (const m of ms) seen.push(`${m.partition}:${m.offset}`);
        },
      });
      expect(n).toBe(185);
      expect(new Set(seen).size).toBe(185);
      expect(seen.filter((s) => s.startsWith("0:")).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `0:${i}`).sort());
    } finally {
      await c.close();
    }
  }, 60_000);

  test("runReplay --dry-run counts what a window would replay, without a group commit", async () => {
    const yaml = `name: rp-dry
source:
  kafka:
    brokers: "${mock.bootstraps}"
    topics: ["${topic}"]
    group: rp-dry
stages:
  - enrich: {}
  - persist:
      url: "postgres://postgres@127.0.0.1:5432/test"
`;
    const topology = parseTopology(yaml, "/tmp/rp-dry.yaml", {});
    const group = uniqueName("rp_dry_group");
    const r = await runReplay({
      topology,
      brokers: mock.bootstraps,
      topic,
      window: { from: T2, to: T3 },
      group,
      dryRun: true,
      logger: createLogger({ level: "warn" }),
      dataDir: "/tmp",
    });
    expect(r.dryRun).toBe(true);
    expect(r.plan.messages).toBe(200);
    expect(r.replayed).toBe(0);
    const c = new Consumer({ config: { "bootstrap.servers": mock.bootstraps, "group.id": group } });
    const committed = await c.committed([{ topic, partition: 0 }]);
    await c.close();
    expect(committed[0].offset).toBeLessThan(0);
  }, 60_000);

  test("timestamps parse from RFC 3339 and epoch ms; anything else is a usage error", () => {
    expect(parseTimestamp("2024-01-01T11:00:00Z", "from")).toBe(T2);
    expect(parseTimestamp("2024-01-01T12:00:00+01:00", "from")).toBe(T2);
    expect(parseTimestamp(String(T3), "to")).toBe(T3);
    expect(() => parseTimestamp("yesterday", "from")).toThrow(ConfigError);
  });
});
