/**
 * Replay through the real stages (enrich → dedupe on Redis → persist on PostgreSQL) from the mock cluster:
 * a first replay ingests a generated run exactly (checked by the audit), replaying it again adds no row, and
 * replaying the dead-letter topic rejects the same events again with one set of engine headers each.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import { audit, readDeadLetterTopic } from "../../shared/audit/index.ts";
import { Consumer, MockCluster, Producer } from "../../shared/kafka/index.ts";
import { runGenerator, type LoadgenManifest } from "../../shared/loadgen/index.ts";
import { deleteRedisPrefix } from "../../shared/loadgen/redis-cleanup.ts";
import { readWholeTopic, runReplay, watermarksOf, type ReplayResult } from "../../shared/replay/index.ts";
import { DLQ_HEADERS } from "../../shared/runtime/engine/dead-letter.ts";
import { createLogger } from "../../shared/telemetry/logger.ts";
import { parseTopology } from "../../shared/topology/index.ts";
import type { ResolvedTopology } from "../../shared/topology/types.ts";
import { describeWith, PG_URL, REDIS_URL, uniqueName } from "../../dev/support/services.ts";

describeWith("postgres", "replay into a topology", () => describeWith("redis", "replay into a topology (redis dedupe)", () => {
  const sql = postgres(PG_URL, { max: 2, onnotice: () => {} });
  const name = uniqueName("rp");
  const topic = name.replaceAll("_", "-");
  const dlq = `${topic}.dlq`;
  const table = name;
  const prefix = `tf:test:${name}`;
  const logger = createLogger({ level: "warn" });
  let mock: MockCluster;
  let topology: ResolvedTopology;
  let manifest: LoadgenManifest;
  let first: ReplayResult;

  const rows = async () => Number((await sql`SELECT count(*) AS n FROM ${sql(table)}`)[0].n);
  const replay = (t: string, group: string) =>
    runReplay({ topology, brokers: mock.bootstraps, topic: t, window: { from: null, to: null }, group, dryRun: false, logger, dataDir: "/tmp" });

  beforeAll(async () => {
    mock = await MockCluster.start({ brokers: 1, topics: [{ name: topic, partitions: 3 }, { name: dlq, partitions: 1 }] });
    topology = parseTopology(
      `name: replay-test
source:
  kafka:
    brokers: "${mock.bootstraps}"
    topics: ["${topic}"]
    group: ${name}
stages:
  - enrich:
      threads: 1
  - dedupe:
      backend: redis
      redis: { url: "${REDIS_URL}" }
      prefix: "${prefix}"
      expectedPerWindow: 100000
  - persist:
      url: "${PG_URL}"
      table: ${table}
      connections: 2
deadLetter:
  topic: "${dlq}"
`,
      "/tmp/replay-test.yaml",
      {},
    );
    const producer = new Producer({ config: { "bootstrap.servers": mock.bootstraps, "enable.idempotence": "true" } });
    const config = { rate: 0, events: 3000, tenants: 4, duplicateRatio: 0.05, invalidRatio: 0.04, binaryRatio: 0.3, payloadBytes: 80 };
    manifest = (await runGenerator({ producer, topic, config, key: "id", seed: 11 })).manifest;
    await producer.close();
    first = await replay(topic, `${name}-first`);
  }, 120_000);

  afterAll(async () => {
    await sql`DROP TABLE IF EXISTS ${sql(table)} CASCADE`;
    await sql.end();
    await deleteRedisPrefix(REDIS_URL, prefix).catch(() => 0);
    await mock.stop();
  });

  test("a first replay ingests the run exactly, and the audit of the real table and DLQ passes", async () => {
    expect(first.replayed).toBe(manifest.messages);
    expect(first.persisted).toBe(manifest.unique);
    expect(first.duplicates).toBe(manifest.duplicates);
    expect(first.invalid).toBe(manifest.invalid.total);
    const dl = await readDeadLetterTopic({ config: { "bootstrap.servers": mock.bootstraps }, topic: dlq, runId: manifest.runId });
    const c = new Consumer({ config: { "bootstrap.servers": mock.bootstraps, "group.id": `${name}-wm` } });
    const source = await watermarksOf(c, topic, [0, 1, 2]).finally(() => c.close());
    const report = await audit({
      sql,
      table,
      manifest,
      deadLetters: dl.tally,
      duplicatesDropped: first.duplicates,
      retention: { source, deadLetter: dl.watermarks },
      sourceIsFresh: true,
    });
    expect(report.failures).toEqual([]);
    expect(report.ok).toBe(true);
  }, 60_000);

  test("replaying data that is already persisted adds no rows", async () => {
    const before = await rows();
    expect(before).toBe(manifest.unique);
    const again = await replay(topic, `${name}-again`);
    expect(again.replayed).toBe(manifest.messages);
    expect(again.persisted).toBe(0);
    expect(again.duplicates).toBe(manifest.unique + manifest.duplicates);
    expect(again.invalid).toBe(manifest.invalid.total);
    expect(await rows()).toBe(before);
    // The replay group committed the end of every partition.
    const c = new Consumer({ config: { "bootstrap.servers": mock.bootstraps, "group.id": `${name}-again` } });
    const committed = await c.committed([0, 1, 2].map((partition) => ({ topic, partition })));
    const wms = await watermarksOf(c, topic, [0, 1, 2]);
    await c.close();
    expect(committed.map((x) => x.offset)).toEqual(wms.map((w) => w.high));
  }, 120_000);

  test("replaying the dead-letter topic rejects the same events again, with one set of engine headers each", async () => {
    const before = (await readWholeTopic({ config: { "bootstrap.servers": mock.bootstraps }, topic: dlq, onBatch: () => {} })).messages;
    const r = await replay(dlq, `${name}-dlq`);
    expect(r.replayed).toBe(before);
    expect(r.invalid).toBe(before);
    expect(r.persisted).toBe(0);
    const codeHeaders: number[] = [];
    await readWholeTopic({
      config: { "bootstrap.servers": mock.bootstraps },
      topic: dlq,
      onBatch: (ms) => ms.forEach((m) => codeHeaders.push(m.headers?.filter(([k]) => k === DLQ_HEADERS.code).length ?? 0)),
    });
    expect(codeHeaders.length).toBe(2 * before);
    expect(codeHeaders.every((n) => n === 1)).toBe(true);
  }, 120_000);

  test("a group that already committed is refused (a replay always starts a new group)", async () => {
    const err = await replay(topic, `${name}-again`).catch((e) => e);
    expect(err.code).toBe("CONFIG_USAGE");
    expect(err.message).toContain("already has committed offsets");
  }, 60_000);
}));
