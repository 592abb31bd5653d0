import { test } from "bun:test";
import { MockCluster } from "/work/main/shared/kafka/index.ts";
import { M } from "/work/main/shared/telemetry/names.ts";
import { observe } from "/work/main/test/runtime/engine/fixtures/registry.ts";
import { makeEngine, produce, testStage, topologyFor, uniqueName, waitFor } from "/work/main/test/runtime/engine/support.ts";

test("duo debug", async () => {
  const mock = await MockCluster.start({ brokers: 1 });
  const topic = uniqueName("duo");
  mock.createTopic(topic, 8);
  mock.createTopic(`${topic}.dlq`, 1);
  await produce(mock.bootstraps, topic, 12000, 8);
  const group = uniqueName("g");
  const t0 = Date.now();
  const log: string[] = [];
  const mk = (name: string, sink: string, wid: number) => makeEngine(topologyFor({ brokers: mock.bootstraps, topic, group, stages: [testStage("recording-sink.ts", { id: sink, delayMs: 40 })], maxEvents: 50, inFlight: 2, properties: { "partition.assignment.strategy": process.env.STRAT ?? "cooperative-sticky", ...(process.env.DBG ? { debug: process.env.DBG } : {}) } }), { workerId: wid,
    hooks: {
      commitIssued: (o, sync) => sync && log.push(`${Date.now() - t0} ${name} commit ${sync ? "sync" : "async"} ${o.map((x) => `${x.partition}@${x.offset}`).join(" ")}`),
      commitSettled: (o, sync, err) => err && log.push(`${Date.now() - t0} ${name} commit FAILED ${sync} ${(err as any).code}`),
      rebalanced: (e) => log.push(`${Date.now() - t0} ${name} ${e.protocol} ${(e as any).lost ? "LOST" : ""} ${e.type} ${e.partitions.map((x) => x.partition).join(",")}`),
    },
  });
  const sa = uniqueName("a"), sb = uniqueName("b");
  const a = await mk("A", sa, 0);
  const b = await mk("B", sb, 1);
  await a.engine.start();
  await waitFor(() => observe(sa).events.length >= 1500, 60000, "A");
  log.push(`${Date.now() - t0} starting B; A seen ${observe(sa).events.length}`);
  await b.engine.start();
  await waitFor(() => observe(sb).events.length >= 1000, 60000, "B");
  log.push(`${Date.now() - t0} stopping B`);
  await b.engine.stop(20000);
  log.push(`${Date.now() - t0} B stopped`);
  const seen = () => new Set([...observe(sa).events, ...observe(sb).events].map((e) => `${e.partition}:${e.offset}`)).size;
  try { await waitFor(() => seen() >= 12000, 20000, "all"); } catch (e) {
    log.push(`STALL: seen ${seen()} A assignment ${JSON.stringify(a.engine.assignment().map(x=>x.partition))} paused ${a.metrics.value(M.partitionsPaused)} inflight ${a.metrics.value(M.batchesInFlight)}`);
    const per = new Map<number, number>(); for (const e of [...observe(sa).events, ...observe(sb).events]) per.set(e.partition, Math.max(per.get(e.partition) ?? -1, e.offset));
    log.push(`max offset per partition ${JSON.stringify([...per].sort())}`);
  }
  console.log(log.join("\n"));
  await a.engine.stop(20000);
  await mock.stop();
}, 200000);
