/**
 * `delay` and the offsets: a worker stopped while it holds events commits nothing at or past them (their batch is
 * abandoned uncommitted), the tenant's other events and the other tenants' went through meanwhile, and the next
 * worker of the group processes the rest: in the end every event is stored exactly once and every offset committed.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import type { StageConfig } from "../../../shared/topology/types.ts";
import { committedOffsets, kafkaSuite, produce } from "../../../dev/support/kafka.ts";
import { PG_URL, REDIS_URL, describeWith } from "../../../dev/support/services.ts";
import { makeEngine, topologyFor, uniqueName } from "../../runtime/engine/support.ts";
import { waitFor } from "../../../dev/support/wait.ts";
import { dropPrefix } from "../../../dev/support/limit-stage.ts";
import { perSecond } from "../../../dev/support/stage-configs.ts";
import { DEFAULT_COLUMNS } from "../../../shared/stages/persist/config.ts";

const kafka = kafkaSuite();
const PARTITIONS = 2;
let sql: postgres.Sql;
const table = uniqueName("delay_events");
const prefix = uniqueName("tf:delay");
beforeAll(() => {
  sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
});
afterAll(async () => {
  await sql?.unsafe(`DROP TABLE IF EXISTS public.${table} CASCADE`);
  await sql?.end();
  await dropPrefix(prefix);
});

describeWith("postgres", "limit delay across a shutdown", () => {
  describeWith("redis", "real Redis", () => {
    test("held events are never committed past; the next worker stores the rest exactly once", async () => {
      const k = kafka();
      const topic = uniqueName("delayed");
      await k.createTopic(topic, PARTITIONS);
      await k.createTopic(`${topic}.dlq`, 1);
      // 30 events of a tenant limited to 5/s (burst 5), 20 of one limited to 1000/s, interleaved.
      const tenantOf = (i: number) => (i % 5 < 3 ? "slow" : "fast");
      const N = 50;
      await produce(k.bootstraps, topic, N, PARTITIONS, (i) => ({
        key: `k${i}`,
        value: JSON.stringify({ specversion: "1.0", id: `e${i}`, source: "/s", type: "t", tenantid: tenantOf(i), time: new Date().toISOString() }),
      }));
      const stages: StageConfig[] = [
        { kind: "enrich", name: "enrich", threads: 1, ingestTimestamp: true, tenantFromSource: false, maxEventBytes: 1 << 20, maxAttributes: 64, sliceTimeoutMs: 30_000, lookups: [], module: null },
        {
          kind: "limit", name: "limit", redisUrl: REDIS_URL, prefix, defaultLimit: perSecond(5, 5), tenants: { fast: perSecond(1000) }, tenantsFile: null, tenantsQuery: null,
          onLimit: "delay", maxDelayMs: 60_000, maxHeldEvents: 1000, maxHeldBatches: 64, onRedisDown: "fail", metricsTopTenants: 5,
        },
        {
          kind: "persist", name: "persist", url: PG_URL, schema: "public", table, connections: 1, manageSchema: true, partitionsAheadDays: 1, retentionDays: 30,
          maintenanceIntervalMs: 600_000, ginIndexOnData: false, method: "copy",
          columns: [...DEFAULT_COLUMNS],
        },
      ];
      const group = uniqueName("g");
      const topology = topologyFor({ brokers: k.bootstraps, topic, group, maxEvents: 50, inFlight: 2, deadlineMs: 3_000, stages });
      const rows = async (tenant: string) => (await sql.unsafe(`SELECT count(*)::int AS n FROM public.${table} WHERE tenant = $1`, [tenant]))[0]?.n ?? 0;

      const first = await makeEngine(topology);
      await first.engine.start();
      try {
        // The fast tenant is not held back by the slow one's held events, which share its batches and partitions.
        await waitFor(async () => (await rows("fast").catch(() => 0)) === 20, { timeoutMs: 60_000, what: "the fast tenant stored" });
        expect(await rows("slow")).toBeLessThan(30);
        expect(first.metrics.total("topofleet_limit_held_events")).toBeGreaterThan(0);
      } finally {
        await first.engine.stop(3_000);
      }
      // Nothing at or past a held event was committed: less than everything.
      const afterFirst = await committedOffsets(k.bootstraps, group, topic, PARTITIONS);
      expect(afterFirst.reduce((a, b) => a + Math.max(0, b), 0)).toBeLessThan(N);

      const second = await makeEngine(topology);
      await second.engine.start();
      try {
        await waitFor(async () => (await rows("slow")) === 30, { timeoutMs: 90_000, what: "the slow tenant stored" });
        await waitFor(async () => (await committedOffsets(k.bootstraps, group, topic, PARTITIONS)).reduce((a, b) => a + b, 0) === N, { timeoutMs: 30_000, what: "every offset committed" });
      } finally {
        await second.engine.stop(5_000);
      }
      const [{ n, ids }] = await sql.unsafe(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM public.${table}`);
      expect([n, ids]).toEqual([N, N]);
    }, 180_000);
  });
});
