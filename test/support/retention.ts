/**
 * Staging broker-side offset jumps on either test Kafka. "Retention deleted events before they were read": on the mock cluster, an
 * append beyond the 5 MiB one mock partition keeps deletes the oldest messages; on a real broker,
 * DeleteRecords (kafka-delete-records.sh from ../shared/kafka-broker, or $KAFKA_KIT) moves the log start
 * offset exactly as retention does, without waiting for the broker's retention check (5 minutes by default).
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Consumer, Producer } from "../../shared/kafka/index.ts";
import type { TestKafka } from "../../dev/support/kafka.ts";
import { tempDir } from "../../dev/support/temp-dir.ts";

const KIT = process.env.KAFKA_KIT ?? join(import.meta.dir, "../../../shared/kafka-broker");

/**
 * Deletes the oldest events of partition 0 of `topic`: on a real broker those before `before`; on the mock,
 * as many as 60 appended 100 KiB messages push out (they are appended either way, so the log ends the same
 * way on both). Returns the new log start offset.
 */
export async function deleteOldest(k: TestKafka, topic: string, before: number): Promise<number> {
  const big = "x".repeat(100 * 1024);
  const p = new Producer({ config: { "bootstrap.servers": k.bootstraps, "linger.ms": "5" } });
  try {
    await p.sendBatch(Array.from({ length: 60 }, () => ({ topic, partition: 0, key: null, value: big })));
  } finally {
    await p.close();
  }
  if (k.mock) return (await k.mock.watermarks(topic, 0)).low;
  const dir = tempDir("delete-records").dir;
  try {
    const file = join(dir, "delete.json");
    writeFileSync(file, JSON.stringify({ version: 1, partitions: [{ topic, partition: 0, offset: before }] }));
    const r = Bun.spawnSync([join(KIT, "bin/kafka-delete-records.sh"), "--bootstrap-server", k.bootstraps, "--offset-json-file", file], { stderr: "pipe", stdout: "pipe" });
    if (r.exitCode !== 0) throw new Error(`kafka-delete-records failed: ${r.stderr.toString()}${r.stdout.toString()}`);
    return before;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Commits `offset` for `group` on partition 0 of `topic` through a member of its own. Beyond the log's end it
 * stages what a truncated log or a recreated topic looks like to the group: a position the log no longer has.
 */
export async function commitOffset(k: TestKafka, topic: string, group: string, offset: number, groupProps: Record<string, string>): Promise<void> {
  const c = new Consumer({ config: { "bootstrap.servers": k.bootstraps, "group.id": group, ...groupProps } });
  try {
    c.subscribe([topic]);
    const deadline = Date.now() + 30_000;
    while (c.assignment().length === 0) {
      if (Date.now() > deadline) throw new Error(`no assignment of ${topic} within 30 s`);
      (await c.consume(100, 100)).release();
    }
    await c.commit([{ topic, partition: 0, offset }], { sync: true, timeoutMs: 10_000 });
  } finally {
    await c.close();
  }
}
