/**
 * The supervisor with real worker processes (workers/worker.ts + the engine) consuming a librdkafka mock
 * cluster hosted by the test, through a custom test stage (fixtures/record-stage.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { MockCluster, Producer } from "../../../shared/kafka/index.ts";
import { startHttpServer, type HttpServer } from "../../../shared/runtime/http/server.ts";
import { Supervisor, type SupervisorOptions } from "../../../shared/runtime/supervisor/supervisor.ts";
import type { ResolvedTopology } from "../../../shared/topology/types.ts";
import { createLogger } from "../../../shared/telemetry/logger.ts";
import { M } from "../../../shared/telemetry/names.ts";
import { loadTopology } from "../../../shared/topology/index.ts";
import { uniqueName } from "../../../dev/support/services.ts";
import { RECORD_STAGE, recordStageTopology } from "./helpers.ts";
import { writeTopology } from "../../../dev/support/topology.ts";
import { tempDir } from "../../../dev/support/temp-dir.ts";
import { waitFor } from "../../../dev/support/wait.ts";

const PARTITIONS = 4;
let cluster: MockCluster;
let topic: string;
const tmp = tempDir("supervisor");

beforeAll(async () => {
  topic = uniqueName("sup");
  cluster = await MockCluster.start({ brokers: 1, topics: [{ name: topic, partitions: PARTITIONS }, { name: `${topic}.dlq`, partitions: 1 }] });
  const producer = new Producer({ config: { "bootstrap.servers": cluster.bootstraps } });
  await producer.sendBatch(Array.from({ length: 2000 }, (_, i) => ({ topic, key: `k${i}`, value: `v${i}` })));
  await producer.close();
});

afterAll(async () => {
  await cluster?.stop();
  tmp.cleanup();
});

/** A topology consuming the test's mock cluster as a "real" Kafka source. */
function topologyYaml(opts: { group: string; replicas: string; delayMs?: number; log?: string }): string {
  return recordStageTopology({
    name: "sup-test",
    brokers: cluster.bootstraps,
    topic,
    group: opts.group,
    stageOptions: `{ delayMs: ${opts.delayMs ?? 0}${opts.log ? `, log: "${opts.log}"` : ""} }`,
    extra: `batch:\n  maxEvents: 50\nconcurrency:\n  replicas: ${opts.replicas}\nshutdown:\n  deadline: 20s\n`,
  });
}

async function get(server: HttpServer, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${server.port}${path}`);
  return { status: res.status, body: await res.text() };
}

/** A supervisor of `topology` with quick status reports, its data under the test's temp dir. */
function testSupervisor(topology: ResolvedTopology, extra: Partial<SupervisorOptions>): Supervisor {
  return new Supervisor({
    topology,
    dataDir: join(tmp.dir, "data"),
    logger: createLogger({ level: "warn", component: "supervisor" }),
    partitions: PARTITIONS,
    statusIntervalMs: 200,
    ...extra,
  });
}

describe("Supervisor with real workers", () => {
  test("serves /metrics, /healthz, /readyz; restarts a SIGKILLed worker and counts the restart", async () => {
    const file = writeTopology(tmp.dir, topologyYaml({ group: uniqueName("g"), replicas: "2" }), "restart.yaml");
    const topology = await loadTopology(file);
    // A long first backoff keeps the slot visibly down for a moment, so /healthz can be seen failing.
    const supervisor = testSupervisor(topology, { restart: { initialDelayMs: 1500 } });
    const server = startHttpServer({
      host: "127.0.0.1",
      port: 0,
      probes: { metrics: () => supervisor.metrics.render(), health: () => supervisor.health(), ready: () => supervisor.ready() },
    });
    try {
      const before = await get(server, "/readyz");
      expect(before.status).toBe(503);
      supervisor.start();
      await waitFor(() => supervisor.ready().ok, { timeoutMs: 60_000, what: "both workers ready" });
      await waitFor(() => supervisor.totals().events >= 2000, { timeoutMs: 60_000, what: "every event processed" });

      // The engine measures lag every few seconds; wait for the first per-partition figures.
      await waitFor(() => supervisor.metrics.render().split(`${M.consumerLag}{topic=`).length - 1 === PARTITIONS, { timeoutMs: 30_000, what: "consumer lag of every partition" });
      expect((await get(server, "/healthz")).status).toBe(200);
      const ready = await get(server, "/readyz");
      expect(ready.status).toBe(200);
      expect(JSON.parse(ready.body)).toMatchObject({ ok: true, workers: [{ id: 0, ready: true }, { id: 1, ready: true }] });

      const metrics = (await get(server, "/metrics")).body;
      for (const series of [
        `${M.eventsIn}{stage="record-stage"}`,
        `${M.eventsOut}{stage="record-stage",outcome="persisted"}`,
        `${M.batchSeconds}_bucket{stage="pipeline",le="+Inf"}`,
        `${M.consumerLag}{topic="${topic}",partition="0",worker="`,
        `${M.workers} 2`,
        `${M.desiredReplicas} 2`,
        `# TYPE ${M.workerRestarts} counter`,
      ]) {
        expect(metrics).toContain(series);
      }
      // At least every message (a rebalance may re-deliver uncommitted batches).
      expect(supervisor.metrics.aggregate().total(M.sourceEvents)).toBeGreaterThanOrEqual(2000);
      // Configuration never leaks: not the brokers, not the module path.
      for (const body of [metrics, ready.body]) {
        expect(body).not.toContain(cluster.bootstraps);
        expect(body).not.toContain(RECORD_STAGE);
      }

      const victim = supervisor.workerPids().get(1)!;
      process.kill(victim, "SIGKILL");
      await waitFor(() => !supervisor.health().ok, { timeoutMs: 10_000, what: "the crash to be noticed" });
      const down = await get(server, "/healthz");
      expect(down.status).toBe(503);
      expect(JSON.parse(down.body).reason).toContain("worker 1 is down");

      const replacement = await waitFor(() => {
        const pid = supervisor.workerPids().get(1);
        return pid && pid !== victim ? pid : null;
      }, { what: "worker 1 to be replaced" });
      expect(replacement).not.toBe(victim);
      expect(supervisor.metrics.aggregate().value(M.workerRestarts, { worker: 1 })).toBe(1);
      expect((await get(server, "/metrics")).body).toContain(`${M.workerRestarts}{worker="1"} 1`);
      await waitFor(() => supervisor.ready().ok, { timeoutMs: 60_000, what: "the fleet ready again" });
      expect((await get(server, "/healthz")).status).toBe(200);

      const outcome = await supervisor.stop("test done");
      expect(outcome).toMatchObject({ exitCode: 0, killed: [] });
      expect(supervisor.workerPids().size).toBe(0);
      expect((await get(server, "/readyz")).status).toBe(503);
    } finally {
      await supervisor.stop("cleanup");
      await server.stop();
    }
  }, 180_000);

  test("autoscales on lag: up to replicas.max while lag is high, back down to min (draining the highest ids) once it is gone", async () => {
    const scaleTopic = uniqueName("scale");
    cluster.createTopic(scaleTopic, PARTITIONS);
    const producer = new Producer({ config: { "bootstrap.servers": cluster.bootstraps } });
    await producer.sendBatch(Array.from({ length: 3000 }, (_, i) => ({ topic: scaleTopic, key: `k${i}`, value: `v${i}` })));
    await producer.close();
    const yaml = topologyYaml({ group: uniqueName("g"), replicas: "{ min: 1, max: 3, lagPerReplica: 500 }", delayMs: 100 })
      .replace(`topics: [${topic}]`, `topics: [${scaleTopic}]`)
      .replace("batch:\n  maxEvents: 50", "batch:\n  maxEvents: 20")
      .concat("deadLetter:\n  topic: scale-dlq\n");
    const topology = await loadTopology(writeTopology(tmp.dir, yaml, "scale.yaml"));
    const supervisor = testSupervisor(topology, { autoscale: { intervalMs: 250, upObservations: 2, upCooldownMs: 0, downStableMs: 500, downCooldownMs: 0 } });
    let maxWorkers = 0;
    const watch = setInterval(() => (maxWorkers = Math.max(maxWorkers, supervisor.workerPids().size)), 50);
    try {
      supervisor.start();
      expect(supervisor.workerPids().size).toBe(1);
      await waitFor(() => supervisor.workerPids().size === 3, { timeoutMs: 60_000, what: "scale-up to 3 workers" });
      expect(supervisor.metrics.aggregate().value(M.desiredReplicas)).toBe(3);
      await waitFor(() => supervisor.totals().events >= 3000, { timeoutMs: 90_000, what: "every event processed" });
      await waitFor(() => supervisor.workerPids().size === 1 && supervisor.metrics.aggregate().value(M.desiredReplicas) === 1, { timeoutMs: 60_000, what: "scale-down to 1 worker" });
      expect([...supervisor.workerPids().keys()]).toEqual([0]);
      expect(maxWorkers).toBe(3);
      // Drained workers are not crashes.
      expect(supervisor.metrics.aggregate().total(M.workerRestarts)).toBe(0);
      const t = supervisor.totals();
      expect(t.persisted).toBe(t.events);
      expect(await supervisor.stop("test done")).toMatchObject({ exitCode: 0 });
    } finally {
      clearInterval(watch);
      await supervisor.stop("cleanup");
    }
  }, 180_000);
});
