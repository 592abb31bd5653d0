/**
 * `bun run topology` when a partition's offsets jump on the broker's side. Events deleted before the fleet read
 * them: the summary says how many (`deleted_before_read`, counted in `lost`), stderr has the warning with its
 * code and offset range, and the bounded run exits 1. A log that moved back below the committed offset: the
 * run re-reads, commits and counts at once (`reset_backward`, `reread`) and exits 0. On the mock cluster, or
 * on the real broker when KAFKA_BROKERS is set.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { kafkaSuite, produce } from "../../dev/support/kafka.ts";
import { commitOffset, deleteOldest } from "../support/retention.ts";
import { FAST_GROUP, uniqueName } from "../runtime/engine/support.ts";
import { recordStageTopology } from "../runtime/supervisor/helpers.ts";
import { runCliToEnd } from "../../dev/support/cli-process.ts";
import { writeTopology } from "../../dev/support/topology.ts";
import { tempDir } from "../../dev/support/temp-dir.ts";

const kafka = kafkaSuite();
const tmp = tempDir("lost-events");
afterAll(() => tmp.cleanup());

const topologyYaml = (brokers: string, topic: string, group: string) => recordStageTopology({ name: "lost-events", brokers, topic, group });

const summaryOf = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!);

describe("offset jumps in a topology run", () => {
  test("events deleted before they were read: a bounded run reports them in the summary and exits 1", async () => {
    const k = kafka();
    const topic = uniqueName("lost");
    await k.createTopic(topic, 1);
    await k.createTopic(`${topic}.dlq`, 1);
    const group = uniqueName("g");
    const file = writeTopology(tmp.dir, topologyYaml(k.bootstraps, topic, group), `${group}.yaml`);
    await produce(k.bootstraps, topic, 20, 1);

    const first = await runCliToEnd([file, "--max-events", "20", "--json", "--data-dir", tmp.dir]);
    expect(first.code, first.stderr.slice(-2000)).toBe(0);
    expect(summaryOf(first.stdout)).toMatchObject({ events: 20, lost: 0, deleted_before_read: 0 });

    // Offsets 20..79 arrive while the fleet is down, and the oldest of them are deleted unread.
    const low = await deleteOldest(k, topic, 35);
    const second = await runCliToEnd([file, "--max-events", String(80 - low), "--json", "--data-dir", tmp.dir]);
    expect(second.code, second.stderr.slice(-2000)).toBe(1);
    const s = summaryOf(second.stdout);
    expect(s).toMatchObject({ events: 80 - low, persisted: 80 - low, deleted_before_read: low - 20, lost: low - 20, reset_backward: 0 });
    expect(second.stderr).toContain('"code":"KAFKA_OFFSETS_DELETED_BEFORE_READ"');
    expect(second.stderr).toContain(`(offsets 20..${low - 1})`);
  }, 180_000);

  test("a log moved back below the committed offset: re-read, committed and counted at once, exit 0", async () => {
    const k = kafka();
    const topic = uniqueName("back");
    await k.createTopic(topic, 1);
    await k.createTopic(`${topic}.dlq`, 1);
    const group = uniqueName("g");
    await produce(k.bootstraps, topic, 10, 1);
    await commitOffset(k, topic, group, 40, { ...FAST_GROUP, "session.timeout.ms": "6000" });
    const file = writeTopology(tmp.dir, topologyYaml(k.bootstraps, topic, group), `${group}.yaml`);
    const r = await runCliToEnd([file, "--max-events", "10", "--json", "--data-dir", tmp.dir]);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(summaryOf(r.stdout)).toMatchObject({ events: 10, persisted: 10, lost: 0, deleted_before_read: 0, reset_backward: 40, reread: 10 });
    expect(r.stderr).toContain('"code":"KAFKA_OFFSET_RESET_BACKWARD"');
  }, 180_000);
});
