/**
 * One tenant floods at 10x its limit while two others send within theirs, across 2 workers (two engines, each its
 * own consumer-group member and Redis connection) on the real broker when KAFKA_BROKERS is set (else the mock
 * cluster), with the real enrich, limit (`delay`) and persist (PostgreSQL) stages.
 *
 * Robust on a loaded machine: the producer sends one round per limit window (1 s), and rates are counted per
 * window from the moments events passed the limit stage (a test stage after it records them), over the steady
 * windows only (not the first, which has the burst, nor the last ones, which drain). Checked:
 * - the two calm tenants pass as many events per window as in a run without the flood (within 10%);
 * - the flooder passes its limit per window (within 5%), shared across both workers through Redis;
 * - the audit is exact: every calm event stored once; every flood event stored once or dead-lettered with
 *   TENANT_DELAY_TOO_LONG by the limit stage; nothing else in the dead-letter topic; every offset committed.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import { DLQ_HEADERS } from "../../../shared/runtime/engine/dead-letter.ts";
import { LIMIT_CODES } from "../../../shared/stages/limit/index.ts";
import { M } from "../../../shared/telemetry/names.ts";
import type { StageConfig } from "../../../shared/topology/types.ts";
import { kafkaSuite, readTopic } from "../../../dev/support/kafka.ts";
import { PG_URL, REDIS_URL, describeWith } from "../../../dev/support/services.ts";
import { Producer } from "../../../shared/kafka/index.ts";
import { makeEngine, topologyFor, uniqueName } from "../../runtime/engine/support.ts";
import { waitFor } from "../../../dev/support/wait.ts";
import { passed } from "./fixtures/tenant-clock.ts";
import { dropPrefix } from "../../../dev/support/limit-stage.ts";
import { DEFAULT_COLUMNS } from "../../../shared/stages/persist/config.ts";

const LIMIT = 100; // events per second per tenant
const CALM = 50; // events per second each calm tenant sends
const FLOOD = 10 * LIMIT;
const ROUNDS = 12;
const PARTITIONS = 4;
const kafka = kafkaSuite();

let sql: postgres.Sql;
const tables: string[] = [];
const prefixes: string[] = [];
beforeAll(() => {
  sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
});
afterAll(async () => {
  for (const t of tables) await sql.unsafe(`DROP TABLE IF EXISTS public.${t} CASCADE`);
  await sql?.end();
  for (const p of prefixes) await dropPrefix(p);
});

const event = (tenant: string, round: number, k: number) => ({
  tenant,
  value: JSON.stringify({ specversion: "1.0", id: `${tenant}-${round}-${k}`, source: `/billing/${tenant}`, type: "usage.recorded", tenantid: tenant, time: new Date().toISOString(), data: { k } }),
});

/** Events that passed the limit stage per 1 s window since `start`, for the steady windows [2, ROUNDS - 1). */
function perWindow(times: number[] | undefined, start: number): number[] {
  const counts = new Array(ROUNDS + 20).fill(0);
  for (const t of times ?? []) {
    const w = Math.floor((t - start) / 1000);
    if (w >= 0 && w < counts.length) counts[w]++;
  }
  return counts.slice(2, ROUNDS - 1);
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function run(flood: boolean) {
  const k = kafka();
  const topic = uniqueName("tenants");
  const dlq = `${topic}.dlq`;
  await k.createTopic(topic, PARTITIONS);
  await k.createTopic(dlq, 1);
  const table = uniqueName("limit_events");
  tables.push(table);
  const prefix = uniqueName("tf:flood");
  prefixes.push(prefix);
  const clock = uniqueName("clock");
  const stages: StageConfig[] = [
    { kind: "enrich", name: "enrich", threads: 1, ingestTimestamp: true, tenantFromSource: false, maxEventBytes: 1 << 20, maxAttributes: 64, sliceTimeoutMs: 30_000, lookups: [], module: null },
    {
      kind: "limit", name: "limit", redisUrl: REDIS_URL, prefix,
      defaultLimit: { events: LIMIT, perMs: 1_000, burst: 10, quota: null, quotaWindowMs: 86_400_000 },
      tenants: {}, tenantsFile: null, tenantsQuery: null, onLimit: "delay", maxDelayMs: 3_000, maxHeldEvents: 10_000, maxHeldBatches: 512, onRedisDown: "fail", metricsTopTenants: 5,
    },
    { kind: "custom", name: "tenant-clock", module: `${import.meta.dir}/fixtures/tenant-clock.ts`, options: { id: clock } },
    {
      kind: "persist", name: "persist", url: PG_URL, schema: "public", table, connections: 2, manageSchema: true, partitionsAheadDays: 1, retentionDays: 30,
      maintenanceIntervalMs: 600_000, ginIndexOnData: false, method: "copy",
      columns: [...DEFAULT_COLUMNS],
    },
  ];
  const topology = topologyFor({ brokers: k.bootstraps, topic, dlq, group: uniqueName("g"), maxEvents: 200, maxWaitMs: 20, inFlight: 4, deadlineMs: 20_000, stages });
  const workers = [await makeEngine(topology, { workerId: 0 }), await makeEngine(topology, { workerId: 1 })];
  for (const w of workers) await w.engine.start();
  const produced = new Map<string, number>();
  let start = 0;
  let lateness = 0;
  try {
    // Measure only once both members own partitions: a rebalance during the run would re-deliver held events.
    await waitFor(() => workers.every((w) => w.engine.assignment().length > 0), { timeoutMs: 60_000, what: "both workers assigned" });
    const producer = new Producer({ config: { "bootstrap.servers": k.bootstraps, "linger.ms": "5" } });
    try {
      await producer.sendBatch([{ topic: dlq, value: "warm-up: connects the producer before the clock starts", partition: 0 }]);
      start = Date.now();
      for (let round = 0; round < ROUNDS; round++) {
        const records = [];
        for (let j = 0; j < CALM; j++) records.push(event("calm-a", round, j), event("calm-b", round, j));
        if (flood) for (let j = 0; j < FLOOD; j++) records.push(event("flood", round, j));
        await producer.sendBatch(records.map((r, i) => ({ topic, partition: i % PARTITIONS, key: `r${round}-${i}`, value: r.value })));
        for (const r of records) produced.set(r.tenant, (produced.get(r.tenant) ?? 0) + 1);
        lateness = Math.max(lateness, Date.now() - (start + (round + 1) * 1000));
        await Bun.sleep(Math.max(0, start + (round + 1) * 1000 - Date.now()));
      }
    } finally {
      await producer.close();
    }
    const total = [...produced.values()].reduce((a, b) => a + b, 0);
    await waitFor(() => workers.reduce((n, w) => n + w.engine.progress().events, 0) >= total, { timeoutMs: 90_000, what: "every event committed" });
  } finally {
    for (const w of workers) await w.engine.stop(20_000);
  }
  const rows = await sql.unsafe(`SELECT tenant, count(*)::int AS n, count(DISTINCT id)::int AS ids FROM public.${table} GROUP BY tenant`);
  const stored = new Map(rows.map((r) => [r.tenant as string, { n: r.n as number, ids: r.ids as number }]));
  const seen = passed.get(clock)!;
  // A round sent late would leave windows without input: the test's premise, not the stage, would be broken.
  expect(lateness).toBeLessThan(500);
  return { k, dlq, produced, stored, start, seen, progress: workers.map((w) => w.engine.progress()), metrics: workers.map((w) => w.metrics) };
}

describeWith("postgres", "tenant limits under a flood (2 workers)", () => {
  describeWith("redis", "real Redis", () => {
    test("calm tenants keep their rate, the flooder is held to its limit, the audit is exact", async () => {
      const calm = await run(false);
      const flooded = await run(true);

      for (const tenant of ["calm-a", "calm-b"]) {
        const base = mean(perWindow(calm.seen.get(tenant), calm.start));
        const withFlood = mean(perWindow(flooded.seen.get(tenant), flooded.start));
        console.log(`${tenant}: ${base.toFixed(1)}/window without the flood, ${withFlood.toFixed(1)} with it`);
        expect(Math.abs(withFlood - base) / base).toBeLessThanOrEqual(0.1);
        // Within its limit, every calm event is stored once, in both runs.
        for (const r of [calm, flooded]) expect(r.stored.get(tenant)).toEqual({ n: r.produced.get(tenant)!, ids: r.produced.get(tenant)! });
      }
      const floodWindows = perWindow(flooded.seen.get("flood"), flooded.start);
      console.log(`flood: ${floodWindows.join(" ")} per window (limit ${LIMIT})`);
      expect(Math.abs(mean(floodWindows) - LIMIT) / LIMIT).toBeLessThanOrEqual(0.05);

      // Audit of the flooder: stored once or dead-lettered by the limit stage with its code; nothing else.
      const floodStored = flooded.stored.get("flood")!;
      expect(floodStored.n).toBe(floodStored.ids);
      const rejected = flooded.produced.get("flood")! - floodStored.n;
      // Dead letters acknowledged by Kafka, by stage and code, over both workers.
      const lettered = (match: Record<string, string>) => flooded.metrics.reduce((n, m) => n + m.total(M.deadLettered, match), 0);
      expect(lettered({ stage: "limit", code: LIMIT_CODES.delayTooLong })).toBe(rejected);
      expect(lettered({})).toBe(rejected);
      // On the real broker, the topic itself (the mock's small default retention may already have deleted some).
      if (flooded.k.real) {
        const letters = (await readTopic(flooded.k.bootstraps, flooded.dlq, rejected + 1, 60_000)).filter((l) => l.headers.has(DLQ_HEADERS.code));
        expect(letters.length).toBe(rejected);
        const dec = new TextDecoder();
        expect(new Set(letters.map((l) => dec.decode(l.headers.get(DLQ_HEADERS.code)!)))).toEqual(new Set([LIMIT_CODES.delayTooLong]));
        expect(new Set(letters.map((l) => dec.decode(l.headers.get(DLQ_HEADERS.stage)!)))).toEqual(new Set(["limit"]));
        expect(new Set(letters.map((l) => JSON.parse(dec.decode(l.value!)).tenantid))).toEqual(new Set(["flood"]));
      }
      // Every event committed, across both workers; the calm run dead-lettered nothing.
      const committed = (r: typeof calm) => r.progress.reduce((n, p) => n + p.events, 0);
      expect(committed(flooded)).toBe([...flooded.produced.values()].reduce((a, b) => a + b, 0));
      expect(calm.progress.reduce((n, p) => n + p.invalid, 0)).toBe(0);
      expect(flooded.progress.reduce((n, p) => n + p.invalid, 0)).toBe(rejected);
      // The flooder was held (delay), not only rejected.
      expect(flooded.metrics.reduce((n, m) => n + m.total(M.limitEvents, { outcome: "delayed" }), 0)).toBeGreaterThan(0);
    }, 300_000);
  });
});
