/**
 * The worker process (workers/worker.ts) as the supervisor runs it (IPC + TOPOFLEET_WORKER) and standalone
 * (a topology file argument, SIGTERM), against the test Kafka (a mock cluster hosted by this test process, or KAFKA_BROKERS).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { WorkerLaunch, WorkerToSupervisor } from "../../../shared/runtime/ipc.ts";
import { freePort } from "../../../dev/support/net.ts";
import { RedisInstance } from "../../../dev/faults/redis-instance.ts";
import { fixture, uniqueName } from "./support.ts";
import { committedOffsets, GROUP_TIMEOUTS, highWatermarks, kafkaSuite, produce } from "../../../dev/support/kafka.ts";
import { waitFor } from "../../../dev/support/wait.ts";
import { describeIf } from "../../../dev/support/services.ts";
import { tempDir } from "../../../dev/support/temp-dir.ts";

const kafka = kafkaSuite();

const WORKER = join(import.meta.dir, "../../../workers/worker.ts");
let dir: string;

beforeAll(async () => {
  dir = tempDir("worker").dir;
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a topology file reading `topic` with the given stages (YAML list items). */
function topologyFile(source: string, stages: string): string {
  const file = join(dir, `${uniqueName("topology")}.yaml`);
  writeFileSync(
    file,
    `name: workertest
source:
${source}
stages:
${stages}
batch: { maxEvents: 100, maxWait: 20ms }
shutdown: { deadline: 10s }
log: { level: warn }
`,
  );
  return file;
}

const sinkStage = `  - custom:
      name: sink
      module: ${fixture("recording-sink.ts")}
      options: { id: worker-sink }`;

const groupProps = `    sessionTimeout: ${GROUP_TIMEOUTS["session.timeout.ms"]}ms
    heartbeatInterval: ${GROUP_TIMEOUTS["heartbeat.interval.ms"]}ms`;

/** A worker spawned the way the supervisor does it, recording its IPC messages. */
function spawnSupervised(launch: WorkerLaunch) {
  const messages: WorkerToSupervisor[] = [];
  const proc = Bun.spawn([process.execPath, WORKER], {
    env: { ...process.env, TOPOFLEET_WORKER: JSON.stringify(launch) },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "inherit",
    ipc: (msg) => messages.push(msg as WorkerToSupervisor),
  });
  return { proc, messages };
}

const launchFor = (topologyFile: string, extra: Partial<WorkerLaunch> = {}): WorkerLaunch => ({
  workerId: 4,
  topologyFile,
  brokersOverride: kafka().bootstraps,
  databaseUrlOverride: null,
  dataDir: dir,
  statusIntervalMs: 200,
  ...extra,
});

/** A fresh topic with `events` events over its partitions, a group, and a topology file reading it through `stages`. */
async function sourceTopology(o: { prefix: string; stages: string; partitions?: number; events?: number; kind?: "mock" | "kafka" }) {
  const partitions = o.partitions ?? 1;
  const topic = uniqueName(o.prefix);
  await kafka().createTopic(topic, partitions);
  const group = uniqueName("wg");
  if (o.events) await produce(kafka().bootstraps, topic, o.events, partitions);
  // A mock source takes its brokers from the supervisor (brokersOverride), as with `bun run topology`.
  const where = o.kind === "kafka" ? `  kafka:\n    brokers: ${kafka().bootstraps}\n` : `  mock:\n${partitions > 1 ? `    partitions: ${partitions}\n` : ""}`;
  return { topic, group, file: topologyFile(`${where}    topics: [${topic}]\n    group: ${group}\n${groupProps}`, o.stages) };
}

/** The worker keeps waiting for a dependency (neither started, nor fatal, nor exited) and exits 0 on a stop. */
async function expectWaitingThenStop(proc: ReturnType<typeof spawnSupervised>["proc"], messages: WorkerToSupervisor[], afterWait?: () => Promise<void>): Promise<void> {
  let exited: number | null = null;
  void proc.exited.then((c) => (exited = c));
  await Bun.sleep(5_000);
  expect(exited).toBeNull();
  expect(messages.some((m) => m.type === "started" || m.type === "fatal")).toBe(false);
  await afterWait?.();
  proc.send({ type: "stop", reason: "test", deadlineMs: 5_000 });
  expect(await proc.exited).toBe(0);
}

describe("worker process", () => {
  test("supervised: started, status with progress, stop over IPC, stopped with the final progress, exit 0", async () => {
    const n = 500;
    const { topic, group, file } = await sourceTopology({ prefix: "wk", partitions: 2, events: n, stages: sinkStage });
    const { proc, messages } = spawnSupervised(launchFor(file));
    try {
      await waitFor(() => messages.some((m) => m.type === "started"), { timeoutMs: 60_000, what: "started" });
      expect(messages.find((m) => m.type === "started")).toMatchObject({ workerId: 4, pid: proc.pid });
      await waitFor(
        () => messages.some((m) => m.type === "status" && m.ready && m.progress.events === n),
        { timeoutMs: 60_000, what: "a status reporting every event committed" },
      );
      const status = messages.findLast((m) => m.type === "status")!;
      if (status.type !== "status") throw new Error("unreachable");
      expect(status.assignment.map((tp) => tp.partition).sort()).toEqual([0, 1]);
      expect(status.metrics.some((f) => f.name === "topofleet_events_in_total")).toBe(true);
      proc.send({ type: "stop", reason: "test", deadlineMs: 5_000 });
      expect(await proc.exited).toBe(0);
      const stopped = messages.find((m) => m.type === "stopped");
      expect(stopped).toMatchObject({ workerId: 4, progress: { events: n, persisted: n, duplicates: 0, invalid: 0 } });
      expect(await committedOffsets(kafka().bootstraps, group, topic, 2)).toEqual(await highWatermarks(kafka(), topic, 2));
    } finally {
      proc.kill();
    }
  }, 120_000);

  test("a non-retriable stage error: `fatal` with the error, exit 1, nothing committed", async () => {
    const { topic, group, file } = await sourceTopology({
      prefix: "wf",
      events: 20,
      stages: `  - custom:\n      name: broken\n      module: ${fixture("flaky-stage.ts")}\n      options: { id: broken, fatal: true }\n${sinkStage}`,
    });
    const { proc, messages } = spawnSupervised(launchFor(file));
    try {
      expect(await proc.exited).toBe(1);
      const fatal = messages.find((m) => m.type === "fatal");
      expect(fatal).toMatchObject({ workerId: 4, error: { code: "PERSIST_FATAL", retriable: false } });
      expect(messages.some((m) => m.type === "stopped")).toBe(false);
      expect(await committedOffsets(kafka().bootstraps, group, topic, 1)).toEqual([-1001]);
    } finally {
      proc.kill();
    }
  }, 120_000);

  test("a topology that cannot load: `fatal` naming the problem, exit 2 (a configuration error no restart can fix)", async () => {
    const missing = join(dir, "missing.yaml");
    const { proc, messages } = spawnSupervised(launchFor(missing));
    expect(await proc.exited).toBe(2);
    const fatal = messages.find((m) => m.type === "fatal");
    expect(fatal?.type).toBe("fatal");
    if (fatal?.type === "fatal") {
      expect(fatal.error.code).toBe("CONFIG_NOT_FOUND");
      expect(String(fatal.error.message)).toContain("missing.yaml");
    }
  }, 60_000);

  // Needs redis-server to start a throw-away instance.
  describeIf({ available: Bun.which("redis-server") !== null, missing: "redis-server is not installed" }, "dependencies down at start", () => {
    let redis: RedisInstance;
    beforeAll(async () => {
      redis = await RedisInstance.start();
      await redis.down();
    });
    afterAll(async () => {
      await redis?.dispose();
    });

    const dedupeStages = () => `  - enrich: { threads: 1 }
  - dedupe:
      backend: redis
      redis: { url: "${redis.url}", mode: bitmap }
      onMaybeSeen: drop
      prefix: ${uniqueName("tf:wk")}
${sinkStage}`;

    test("Redis down when the worker starts: it waits with backoff (not started, not exiting), then starts when Redis is back", async () => {
      const { file } = await sourceTopology({ prefix: "wr", events: 50, stages: dedupeStages() });
      const { proc, messages } = spawnSupervised(launchFor(file));
      try {
        // The old behaviour exited 1 within a second; now it keeps retrying, and says so.
        await expectWaitingThenStop(proc, messages, async () => {
          await redis.up();
          await waitFor(() => messages.some((m) => m.type === "status" && m.ready && m.progress.events === 50), { timeoutMs: 60_000, what: "ready and everything committed" });
        });
      } finally {
        proc.kill();
        await redis.down();
      }
    }, 120_000);

    test("a stop while a stage waits for its dependencies exits 0 at once", async () => {
      const { file } = await sourceTopology({ prefix: "wr", stages: dedupeStages() });
      const { proc, messages } = spawnSupervised(launchFor(file));
      try {
        await Bun.sleep(3_000);
        const t0 = Date.now();
        proc.send({ type: "stop", reason: "test", deadlineMs: 5_000 });
        expect(await proc.exited).toBe(0);
        expect(Date.now() - t0).toBeLessThan(5_000);
        expect(messages.some((m) => m.type === "fatal")).toBe(false);
      } finally {
        proc.kill();
      }
    }, 60_000);

    test("a PostgreSQL lookup unreachable at start: the worker waits (no fatal, no exit) instead of crash-looping", async () => {
      const nobody = await freePort();
      const stages = `  - enrich:
      threads: 1
      lookups:
        - postgres: { name: regions, url: "postgres://postgres@127.0.0.1:${nobody}/none", query: "SELECT 1, 2", key: tenantid, into: region }
${sinkStage}`;
      const { file } = await sourceTopology({ prefix: "wl", stages });
      const { proc, messages } = spawnSupervised(launchFor(file));
      try {
        await expectWaitingThenStop(proc, messages);
      } finally {
        proc.kill();
      }
    }, 60_000);
  });

  test("standalone (no IPC): runs from a topology file argument and SIGTERM stops it cleanly with everything committed", async () => {
    const n = 300;
    const { topic, group, file } = await sourceTopology({ prefix: "ws", kind: "kafka", partitions: 2, events: n, stages: sinkStage });
    const proc = Bun.spawn([process.execPath, WORKER, file], {
      env: { ...process.env, TOPOFLEET_WORKER: "", TOPOFLEET_LOG_LEVEL: "info" },
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    });
    try {
      const high = await highWatermarks(kafka(), topic, 2);
      await waitFor(async () => (await committedOffsets(kafka().bootstraps, group, topic, 2)).join() === high.join(), { timeoutMs: 60_000, what: "everything committed", everyMs: 200 });
      proc.kill("SIGTERM");
      const t0 = Date.now();
      expect(await proc.exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(10_000);
      const log = await new Response(proc.stderr as ReadableStream).text();
      expect(log).toContain("worker stopped");
      expect(log).toContain(`"events":${n}`);
    } finally {
      proc.kill();
    }
  }, 120_000);
});
