/**
 * `bun workers/topology.ts` end to end as a subprocess: SIGTERM drains and commits exactly what was
 * processed, a crash loop gives up with exit 1. The source is the test Kafka (a mock cluster hosted by the
 * test, or the real broker named by KAFKA_BROKERS) consumed as a Kafka cluster, so the committed offsets can be read after the CLI has exited.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Consumer, Producer } from "../../../shared/kafka/index.ts";
import { uniqueName } from "../../../dev/support/services.ts";
import { kafkaSuite, pipelineTopics } from "../../../dev/support/kafka.ts";
import { recordStageTopology } from "./helpers.ts";
import { CliProcess } from "../../../dev/support/cli-process.ts";
import { writeTopology } from "../../../dev/support/topology.ts";
import { tempDir } from "../../../dev/support/temp-dir.ts";
import { waitFor } from "../../../dev/support/wait.ts";

const PARTITIONS = 4;
const MESSAGES = 3000;
const kafka = kafkaSuite();
const tmp = tempDir("cli-run");

afterAll(() => tmp.cleanup());

/** A fresh topic with MESSAGES messages spread over PARTITIONS partitions. */
async function filledTopic(): Promise<string> {
  const { topic } = await pipelineTopics(kafka(), PARTITIONS, "drain");
  const producer = new Producer({ config: { "bootstrap.servers": kafka().bootstraps } });
  await producer.sendBatch(Array.from({ length: MESSAGES }, (_, i) => ({ topic, key: `k${i}`, value: `v${i}` })));
  await producer.close();
  return topic;
}

function topologyYaml(topic: string, group: string, stageOptions: string, extra = ""): string {
  return recordStageTopology({ name: "cli-run-test", brokers: kafka().bootstraps, topic, group, stageOptions, extra: `batch:\n  maxEvents: 20\n${extra}` });
}

/** The per-partition offsets the record stage logged as processed. */
function processedOffsets(log: string): Map<number, Set<number>> {
  const out = new Map<number, Set<number>>();
  if (!existsSync(log)) return out;
  for (const line of readFileSync(log, "utf8").split("\n")) {
    if (!line) continue;
    const [p, o] = line.split(":").map(Number);
    if (!out.has(p)) out.set(p, new Set());
    out.get(p)!.add(o);
  }
  return out;
}

describe("topology CLI run", () => {
  /** Starts the CLI on a fresh topic, SIGTERMs it mid-stream, returns what was processed and committed. */
  async function drainRun(replicas: number) {
    const topic = await filledTopic();
    const group = uniqueName("g");
    const log = join(tmp.dir, `${group}.log`);
    // Slow batches and one in flight per worker, so the signal lands mid-stream with work in flight.
    const file = writeTopology(
      tmp.dir,
      topologyYaml(topic, group, `{ delayMs: 300, log: "${log}" }`, `concurrency:\n  replicas: ${replicas}\n  inFlightBatches: 1\nshutdown:\n  deadline: 20s\n`),
      `${group}.yaml`,
    );
    const run = new CliProcess([file, "--json", "--data-dir", join(tmp.dir, "data")]);
    await waitFor(() => [...processedOffsets(log).values()].reduce((n, s) => n + s.size, 0) >= 60, { timeoutMs: 60_000, what: "some events processed" });
    const signalledAt = Date.now();
    run.proc.kill("SIGTERM");
    const code = await run.exited;
    const drainMs = Date.now() - signalledAt;
    const summary = JSON.parse(run.stdout.trim().split("\n").at(-1)!);
    const processed = processedOffsets(log);
    const consumer = new Consumer({ config: { "bootstrap.servers": kafka().bootstraps, "group.id": group } });
    try {
      const committed = await consumer.committed(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic, partition })));
      return { code, stderr: run.stderr, drainMs, summary, processed, committed };
    } finally {
      await consumer.close();
    }
  }

  /** Committed = next offset to consume: every offset below it processed, none at or above it. */
  function expectCommittedEqualsProcessed(r: Awaited<ReturnType<typeof drainRun>>): void {
    for (const c of r.committed) {
      const offsets = r.processed.get(c.partition) ?? new Set<number>();
      const expected = offsets.size ? Math.max(...offsets) + 1 : -1001;
      expect({ partition: c.partition, committed: c.offset }).toEqual({ partition: c.partition, committed: expected });
      if (offsets.size) expect(offsets.size).toBe(expected);
    }
  }

  test("SIGTERM drains: exit 0 within the deadline, and the committed offsets equal what was processed", async () => {
    const r = await drainRun(1);
    expect(r.code, r.stderr).toBe(0);
    expect(r.drainMs).toBeLessThan(20_000);
    expect(r.summary.lost).toBe(0);
    const total = [...r.processed.values()].reduce((n, s) => n + s.size, 0);
    expect(total).toBeLessThan(MESSAGES); // the drain stopped consuming: the rest stays for the next run
    expect(r.summary.events).toBe(total);
    expectCommittedEqualsProcessed(r);
  }, 120_000);

  test("SIGTERM drains two workers: exit 0, and the committed offsets equal what was processed", async () => {
    // Both workers leave at once, so each one's final commit races the rebalance the other's departure
    // starts; the engine retries it under the new generation instead of leaving processed work uncommitted.
    const r = await drainRun(2);
    expect(r.code, r.stderr).toBe(0);
    expect(r.drainMs).toBeLessThan(20_000);
    expect(r.summary.lost).toBe(0);
    expectCommittedEqualsProcessed(r);
    const committedTotal = r.committed.reduce((n, c) => n + Math.max(0, c.offset), 0);
    expect(committedTotal).toBeGreaterThan(0);
    expect(r.summary.events).toBe(committedTotal);
  }, 120_000);

  test("a worker whose supervisor was SIGKILLed drains and exits on its own", async () => {
    const topic = await filledTopic();
    const group = uniqueName("g");
    const log = join(tmp.dir, `${group}.log`);
    const file = writeTopology(tmp.dir, topologyYaml(topic, group, `{ delayMs: 100, log: "${log}" }`, "shutdown:\n  deadline: 10s\n"), `${group}.yaml`);
    const run = new CliProcess([file, "--json", "--data-dir", join(tmp.dir, "data")]);
    await waitFor(() => processedOffsets(log).size > 0, { timeoutMs: 60_000, what: "some events processed" });
    const workerPid = await waitFor(() => {
      const children = Bun.spawnSync(["pgrep", "-P", String(run.proc.pid)]).stdout.toString().trim().split("\n").filter(Boolean);
      return children.length === 1 ? Number(children[0]) : undefined;
    }, { what: "the worker process" });
    run.proc.kill("SIGKILL");
    await run.exited;
    const alive = () => {
      try {
        process.kill(workerPid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(alive()).toBe(true); // it outlived the supervisor...
    await waitFor(() => !alive(), { timeoutMs: 15_000, what: "the orphaned worker to exit" }); // ...and left within the deadline
  }, 120_000);

  test("a crash loop gives up: exit 1 with RUNTIME_CRASH_LOOP and the last error in the log", async () => {
    const topic = await filledTopic();
    const group = uniqueName("g");
    const file = writeTopology(tmp.dir, topologyYaml(topic, group, "{ failStart: true }"), `${group}.yaml`);
    const run = new CliProcess([file, "--json", "--data-dir", join(tmp.dir, "data")]);
    const code = await run.exited;
    expect(code).toBe(1);
    const fatal = run
      .stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l))
      .find((l) => l.component === "supervisor" && l.level === 60);
    expect(fatal?.err?.code).toBe("RUNTIME_CRASH_LOOP");
    expect(JSON.stringify(fatal.lastError)).toContain("record stage told to fail at start");
    // The summary is still printed, as the last stdout line.
    expect(JSON.parse(run.stdout.trim().split("\n").at(-1)!)).toMatchObject({ events: 0, lost: 0 });
  }, 120_000);
});
