/**
 * The persist conformance suite: every case runs against each backend (real PostgreSQL with COPY and with
 * unnest, and embedded PGlite through its TCP server). Each test gets its own table in a per-suite schema.
 */
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import postgres, { type Sql } from "postgres";
import { PersistError } from "../../../shared/errors/index.ts";
import { EventStatus, type Batch } from "../../../shared/stages/batch.ts";
import { createPersistStage, migrate, type PersistStage } from "../../../shared/stages/persist/index.ts";
import { DAY_MS, dayOf, partitionName } from "../../../shared/stages/persist/partitions.ts";
import { Metrics } from "../../../shared/telemetry/metrics.ts";
import { M } from "../../../shared/telemetry/names.ts";
import type { ColumnMapping, PersistStageConfig } from "../../../shared/topology/types.ts";
import { uniqueName } from "../../../dev/support/services.ts";
import { INGESTED_AT, fixtureEvent, makeBatch, manyEvents, todayNoon, type FixtureEvent } from "../../../dev/support/persist-batches.ts";
import { stageContext, testLogger } from "../../../dev/support/stage-context.ts";
import { persistConfig } from "../../../dev/support/stage-configs.ts";
import { startLostAckProxy } from "./lost-ack-proxy.ts";
import { tempDir } from "../../../dev/support/temp-dir.ts";

/** One backend the suite runs against. */
export interface PersistBackend {
  /** Resolved in beforeAll (PGlite starts there). */
  url: () => string;
  method: "copy" | "unnest";
  /** Real PostgreSQL can kill the stage's sessions; PGlite has no backends to terminate. */
  canTerminateBackends: boolean;
}

/** Registers the suite's tests in the caller's describe block. */
export function persistConformance(backend: PersistBackend): void {
  let admin: Sql;
  let schema: string;
  let dataDir: string;
  const open: PersistStage[] = [];

  beforeAll(async () => {
    admin = postgres(backend.url(), { max: 1, onnotice: () => undefined });
    schema = uniqueName("tf_persist");
    await admin.unsafe(`CREATE SCHEMA "${schema}"`);
    dataDir = tempDir("persist").dir;
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });

  afterAll(async () => {
    await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const config = (over: Partial<PersistStageConfig> = {}): PersistStageConfig =>
    persistConfig({ url: backend.url(), schema, method: backend.method, ...over });

  async function startStage(over: Partial<PersistStageConfig> = {}, metrics = new Metrics()) {
    const cfg = config(over);
    const stage = createPersistStage(cfg);
    await stage.start(stageContext({ dataDir, metrics }));
    open.push(stage);
    return { stage, cfg, metrics, table: `"${schema}"."${cfg.table}"` };
  }

  const count = async (table: string): Promise<number> => Number((await admin.unsafe(`SELECT count(*)::int AS n FROM ${table}`))[0].n);
  const partitionsOf = async (table: string): Promise<string[]> =>
    (await admin.unsafe(`SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass($1) ORDER BY 1`, [`"${schema}"."${table}"`])).map(
      (r) => r.relname as string,
    );
  const rowsMetric = (m: Metrics, outcome: string) => m.total(M.persistRows, { outcome });
  const statusCounts = (b: Batch) => ({
    live: b.count(EventStatus.Live),
    persisted: b.count(EventStatus.Persisted),
    duplicate: b.count(EventStatus.Duplicate),
    rejected: b.count(EventStatus.DeadLettered),
  });

  test("migration is idempotent, also when two connections run it at the same time", async () => {
    const cfg = config({ ginIndexOnData: true, partitionsAheadDays: 3 });
    await Promise.all([migrate(cfg, testLogger, { dataDir }), migrate(cfg, testLogger, { dataDir })]);
    await migrate(cfg, testLogger, { dataDir });
    const [rel] = await admin.unsafe(`SELECT relkind FROM pg_class WHERE oid = to_regclass($1)`, [`"${schema}"."${cfg.table}"`]);
    expect(rel.relkind).toBe("p");
    const pk = await admin.unsafe(
      `SELECT a.attname FROM pg_index i JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, n) ON true
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY k.n`,
      [`"${schema}"."${cfg.table}"`],
    );
    // Time leads, so inserts of events arriving in time order stay on the index's right edge (schema.ts).
    expect(pk.map((r) => r.attname)).toEqual(["time", "source", "id"]);
    const idx = await admin.unsafe(`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY 1`, [schema, cfg.table]);
    const defs = idx.map((r) => r.indexdef as string);
    expect(defs.some((d) => /\(tenant, "?time"?\)/.test(d))).toBe(true);
    expect(defs.some((d) => /USING gin \(data\)/.test(d))).toBe(true);
    const today = dayOf(Date.now());
    const expected = [0, 1, 2, 3].map((k) => partitionName(cfg.table, today + k));
    expect(await partitionsOf(cfg.table)).toEqual(expected);
  });

  test("partitions are created ahead and dropped once wholly past retention", async () => {
    const { stage, cfg } = await startStage({ partitionsAheadDays: 3, retentionDays: 30 });
    const today = dayOf(Date.now());
    const ahead = [0, 1, 2, 3].map((k) => partitionName(cfg.table, today + k));
    expect(await partitionsOf(cfg.table)).toEqual(ahead);
    for (const d of [today - 45, today - 31, today - 30]) {
      await admin.unsafe(
        `CREATE TABLE "${schema}"."${partitionName(cfg.table, d)}" PARTITION OF "${schema}"."${cfg.table}"
           FOR VALUES FROM ('${new Date(d * DAY_MS).toISOString()}') TO ('${new Date((d + 1) * DAY_MS).toISOString()}')`,
      );
    }
    const result = await stage.maintain();
    expect(result.dropped.sort()).toEqual([partitionName(cfg.table, today - 45), partitionName(cfg.table, today - 31)].sort());
    // today-30 ends after now-30d: it still holds rows inside the window.
    expect(await partitionsOf(cfg.table)).toEqual([partitionName(cfg.table, today - 30), ...ahead]);
  });

  test("the maintenance loop runs every maintenanceIntervalMs", async () => {
    const { cfg } = await startStage({ retentionDays: 10, maintenanceIntervalMs: 100 });
    const old = dayOf(Date.now()) - 20;
    const name = partitionName(cfg.table, old);
    await admin.unsafe(
      `CREATE TABLE "${schema}"."${name}" PARTITION OF "${schema}"."${cfg.table}"
         FOR VALUES FROM ('${new Date(old * DAY_MS).toISOString()}') TO ('${new Date((old + 1) * DAY_MS).toISOString()}')`,
    );
    const deadline = Date.now() + 10_000;
    while ((await partitionsOf(cfg.table)).includes(name) && Date.now() < deadline) await Bun.sleep(50);
    expect(await partitionsOf(cfg.table)).not.toContain(name);
  });

  test("rows land with every column right, escapes in data included", async () => {
    const { stage, table, metrics } = await startStage();
    const tricky = JSON.stringify({ s: 'tab\there, newline\nthere, backslash \\ and "quotes"', u: "ünïcødé 😀", c: "\u0001", nested: { a: [1, 2.5, null, true] } });
    const rawWhitespace = '{\n\t"spaced" :\r\n "x\\\\y"}';
    const input: FixtureEvent[] = [
      { id: "e1", data: tricky, subject: "sub\tject\\with\nescapes", tenant: null },
      { id: "e2", data: rawWhitespace, subject: null, source: "/src/with space", type: "t.two" },
      { id: "e3", data: null, extensions: '{"traceparent":"00-abc-01","n":1}', partition: 5, offset: 2 ** 40 + 7, time: "2024-02-29T23:59:59.999Z" },
    ];
    const batch = makeBatch(input);
    await stage.process(batch);
    expect(statusCounts(batch)).toEqual({ live: 0, persisted: 3, duplicate: 0, rejected: 0 });
    expect(rowsMetric(metrics, "inserted")).toBe(3);
    const rows = await admin.unsafe(`SELECT * FROM ${table} ORDER BY id`);
    expect(rows.length).toBe(3);
    for (const [k, row] of rows.entries()) {
      const e = fixtureEvent({ ...input[k], offset: batch.records.offsets[k], partition: batch.records.partitions[k] });
      expect(row.id).toBe(e.id);
      expect(row.source).toBe(e.source);
      expect(row.type).toBe(e.type);
      expect(row.subject).toBe(e.subject);
      expect((row.time as Date).toISOString()).toBe(e.time);
      expect(row.tenant).toBe(e.tenant);
      expect(row.data).toEqual(e.data === null ? null : JSON.parse(e.data));
      expect(row.extensions).toEqual(JSON.parse(e.extensions));
      expect((row.ingested_at as Date).getTime()).toBe(INGESTED_AT);
      expect(row.kafka_partition).toBe(e.partition);
      expect(String(row.kafka_offset)).toBe(String(e.offset));
    }
  });

  test("events already in the table, or twice in one batch, become duplicates", async () => {
    const { stage, table, metrics } = await startStage();
    const first = makeBatch(manyEvents("d", 5));
    await stage.process(first);
    const second = makeBatch([{ id: "d-3" }, { id: "d-4" }, { id: "new-1" }, { id: "twice" }, { id: "twice" }]);
    await stage.process(second);
    expect(second.status[0]).toBe(EventStatus.Duplicate);
    expect(second.status[1]).toBe(EventStatus.Duplicate);
    expect(second.status[2]).toBe(EventStatus.Persisted);
    expect([second.status[3], second.status[4]].sort()).toEqual([EventStatus.Persisted, EventStatus.Duplicate]);
    expect(await count(table)).toBe(7);
    expect(rowsMetric(metrics, "inserted")).toBe(7);
    expect(rowsMetric(metrics, "conflict")).toBe(3);
  });

  test("two batches in flight with the same events count each event once", async () => {
    const { stage, table, metrics } = await startStage({ connections: 4 });
    const shared = manyEvents("shared", 50);
    const batches = [0, 1, 2, 3].map((k) => makeBatch([...shared, ...manyEvents(`own${k}`, 25)]));
    await Promise.all(batches.map((b) => processLikeEngine(stage, b)));
    const persisted = batches.reduce((n, b) => n + b.count(EventStatus.Persisted), 0);
    const duplicates = batches.reduce((n, b) => n + b.count(EventStatus.Duplicate), 0);
    expect(persisted).toBe(50 + 4 * 25);
    expect(duplicates).toBe(3 * 50);
    expect(await count(table)).toBe(150);
    expect(rowsMetric(metrics, "inserted")).toBe(150);
  });

  test("a retry after a lost COMMIT acknowledgement keeps counts exact", async () => {
    const proxy = await startLostAckProxy(backend.url());
    try {
      const { stage, table, metrics } = await startStage({ url: proxy.url, connections: 1 });
      const lostOnce = async (batch: Batch) => {
        proxy.arm();
        const err = await stage.process(batch).then(
          () => null,
          (e: unknown) => e,
        );
        await proxy.cut();
        expect(err).toBeInstanceOf(PersistError);
        expect((err as PersistError).retriable).toBe(true);
        expect((err as PersistError).code).toBe("PERSIST_CONNECTION");
        expect(statusCounts(batch).live).toBe(batch.size); // nothing marked: the stage never saw the COMMIT
      };
      // All-new rows (with COPY: the direct path).
      const fresh = makeBatch(manyEvents("lost", 20));
      await lostOnce(fresh);
      expect(await count(table)).toBe(20); // the COMMIT went through; only its acknowledgement was lost
      await stage.process(fresh);
      expect(statusCounts(fresh)).toEqual({ live: 0, persisted: 20, duplicate: 0, rejected: 0 });
      // Mixed with a real duplicate from another Kafka offset (with COPY: the staging path).
      await stage.process(makeBatch([{ id: "seen", offset: 5 }]));
      const mixed = makeBatch([...manyEvents("again", 10), { id: "seen", offset: 999 }]);
      await lostOnce(mixed);
      expect(await count(table)).toBe(31);
      await stage.process(mixed);
      expect(statusCounts(mixed)).toEqual({ live: 0, persisted: 10, duplicate: 1, rejected: 0 });
      expect(await count(table)).toBe(31);
      expect(rowsMetric(metrics, "inserted")).toBe(31);
      expect(rowsMetric(metrics, "conflict")).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  test("a row failing a CHECK constraint is dead-lettered as PG_23514; the rest lands", async () => {
    const { stage, cfg, table, metrics } = await startStage();
    await admin.unsafe(`ALTER TABLE ${table} ADD CONSTRAINT no_poison CHECK (type <> 'poison')`);
    const batch = makeBatch(manyEvents("chk", 40, (k) => (k === 7 || k === 31 ? { type: "poison" } : {})));
    await stage.process(batch);
    expect(statusCounts(batch)).toEqual({ live: 0, persisted: 38, duplicate: 0, rejected: 2 });
    for (const k of [7, 31]) {
      const r = batch.rejections.get(k)!;
      expect(r.stage).toBe(cfg.name);
      expect(r.code).toBe("PG_23514");
      expect(r.reason).toContain("no_poison");
    }
    expect(await count(table)).toBe(38);
    expect(rowsMetric(metrics, "rejected")).toBe(2);
    expect(rowsMetric(metrics, "inserted")).toBe(38);
  });

  test("bad JSON in data is dead-lettered as PG_22P02 (and \\u0000 as PG_22P05); the rest lands", async () => {
    const { stage, table } = await startStage();
    const batch = makeBatch(manyEvents("json", 30, (k) => (k === 3 ? { data: "{bad json" } : k === 20 ? { data: '{"a":"\\u0000"}' } : {})));
    await stage.process(batch);
    expect(statusCounts(batch)).toEqual({ live: 0, persisted: 28, duplicate: 0, rejected: 2 });
    expect(batch.rejections.get(3)!.code).toBe("PG_22P02");
    expect(batch.rejections.get(3)!.reason).toMatch(/json/i);
    expect(batch.rejections.get(20)!.code).toBe("PG_22P05");
    expect(await count(table)).toBe(28);
  });

  if (!backend.canTerminateBackends) {
    console.warn("[skip] pg_terminate_backend mid-batch: this backend has no server sessions to terminate (PGlite); the lost-acknowledgement test covers connection loss here");
  }
  test.if(backend.canTerminateBackends)("pg_terminate_backend mid-batch is retriable and the retried batch lands exactly", async () => {
    const { stage, cfg, table, metrics } = await startStage({ connections: 2 });
    const batch = makeBatch(manyEvents("term", 200));
    // Its own client: the admin pool has one connection, which the polling below needs.
    const lockerClient = postgres(backend.url(), { max: 1, onnotice: () => undefined });
    const locker = await lockerClient.reserve();
    try {
      await locker.unsafe("BEGIN");
      await locker.unsafe(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
      const pending = stage.process(batch).then(
        () => null,
        (e: unknown) => e,
      );
      const app = `topofleet-persist:${cfg.name}`;
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        const waiting = await admin.unsafe(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, [app]);
        if (waiting.length) break;
        await Bun.sleep(20);
      }
      const killed = await admin.unsafe(`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1`, [app]);
      expect(killed.length).toBeGreaterThan(0);
      await locker.unsafe("ROLLBACK");
      const err = await pending;
      expect(err).toBeInstanceOf(PersistError);
      expect((err as PersistError).retriable).toBe(true);
      expect((err as PersistError).code).toBe("PERSIST_CONNECTION");
      expect(statusCounts(batch).live).toBe(200);
    } finally {
      locker.release();
      await lockerClient.end();
    }
    await stage.process(batch);
    expect(statusCounts(batch)).toEqual({ live: 0, persisted: 200, duplicate: 0, rejected: 0 });
    expect(await count(table)).toBe(200);
    expect(rowsMetric(metrics, "inserted")).toBe(200);
  });

  test("IdentityStore.existing returns exactly the stored (source, id, time) in one query", async () => {
    const { stage } = await startStage();
    const t = "2025-06-01T10:00:00.000Z";
    await stage.process(makeBatch(manyEvents("id", 10, () => ({ time: t }))));
    const probe = makeBatch([
      { id: "id-0", time: t },
      { id: "id-1", time: t },
      { id: "id-2", time: "2025-06-01T10:00:01.000Z" },
      { id: "id-3", time: t, source: "/elsewhere" },
      { id: "never", time: t },
    ]);
    expect([...(await stage.existing(probe, [0, 1, 2, 3, 4]))].sort()).toEqual([0, 1]);
    expect([...(await stage.existing(probe, [1, 4]))]).toEqual([1]);
    expect((await stage.existing(probe, [])).size).toBe(0);
  });

  test("a re-delivered record (same Kafka position as its stored row) is not reported as stored, and settles as Persisted", async () => {
    const { stage } = await startStage();
    const t = "2025-06-01T10:00:00.000Z";
    const first = makeBatch([{ id: "r-0", time: t, partition: 3, offset: 70 }, { id: "r-1", time: t, partition: 3, offset: 71 }]);
    await stage.process(first);
    // After a crash between the row commit and the offset commit, the same records come again; a third
    // record is a real duplicate of r-0 (same identity, another position).
    const again = makeBatch([{ id: "r-0", time: t, partition: 3, offset: 70 }, { id: "r-1", time: t, partition: 3, offset: 71 }, { id: "r-0", time: t, partition: 3, offset: 90 }]);
    expect([...(await stage.existing(again, [0, 1, 2]))]).toEqual([2]);
    again.markDuplicate(2);
    await stage.process(again);
    expect(statusCounts(again)).toEqual({ live: 0, persisted: 2, duplicate: 1, rejected: 0 });
  });

  test("a user-owned table with a custom column mapping (manageSchema: false)", async () => {
    const table = uniqueName("custom");
    await admin.unsafe(
      `CREATE TABLE "${schema}"."${table}" (event_id text NOT NULL, src text NOT NULL, occurred timestamptz NOT NULL,
         payload jsonb, kind varchar(12), extra text DEFAULT 'x', PRIMARY KEY (src, event_id, occurred))`,
    );
    const columns: ColumnMapping[] = [
      { column: "kind", from: "type" },
      { column: "event_id", from: "id" },
      { column: "occurred", from: "time" },
      { column: "src", from: "source" },
      { column: "payload", from: "data" },
    ];
    const metrics = new Metrics();
    const stage = createPersistStage(persistConfig({ url: backend.url(), schema, table, method: backend.method, manageSchema: false, columns }));
    await stage.start(stageContext({ dataDir, metrics }));
    open.push(stage);
    const t = todayNoon();
    const first = makeBatch(manyEvents("c", 5, (k) => ({ type: k === 2 ? "kind-that-is-far-too-long" : `k${k}`, time: t })), columns);
    await stage.process(first);
    expect(statusCounts(first)).toEqual({ live: 0, persisted: 4, duplicate: 0, rejected: 1 });
    expect(first.rejections.get(2)!.code).toBe("PG_22001");
    const rows = await admin.unsafe(`SELECT * FROM "${schema}"."${table}" ORDER BY event_id`);
    expect(rows.map((r) => [r.event_id, r.src, (r.occurred as Date).toISOString(), r.payload, r.kind, r.extra])).toEqual(
      [0, 1, 3, 4].map((k) => [`c-${k}`, "/tests/persist", t, { n: `c-${k}` }, `k${k}`, "x"]),
    );
    // Without Kafka position columns the stage learns what it inserted from RETURNING.
    const second = makeBatch([{ id: "c-0", time: t, type: "k0" }, { id: "c-1", time: t, type: "k1" }, { id: "c-9", time: t, type: "k9" }], columns);
    await stage.process(second);
    expect(Array.from(second.status)).toEqual([EventStatus.Duplicate, EventStatus.Duplicate, EventStatus.Persisted]);
    expect(rowsMetric(metrics, "inserted")).toBe(5);
  });

  test("manageSchema: false on a missing table fails start with PERSIST_SCHEMA", async () => {
    const stage = createPersistStage(config({ manageSchema: false }));
    const err = await stage.start(stageContext({ dataDir })).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PersistError);
    expect((err as PersistError).code).toBe("PERSIST_SCHEMA");
    expect((err as PersistError).retriable).toBe(false);
  });

  test("events on days without a partition still land (and a partition dropped behind our back heals)", async () => {
    const { stage, cfg, table } = await startStage({ partitionsAheadDays: 1 });
    const now = Date.now();
    const far = [now - 400 * DAY_MS, now + 200 * DAY_MS, now].map((ms) => new Date(ms).toISOString());
    const batch = makeBatch(far.map((time, k) => ({ id: `far-${k}`, time })));
    await stage.process(batch);
    expect(statusCounts(batch).persisted).toBe(3);
    const parts = await partitionsOf(cfg.table);
    for (const ms of [now - 400 * DAY_MS, now + 200 * DAY_MS]) expect(parts).toContain(partitionName(cfg.table, dayOf(ms)));

    // Another worker's maintenance dropped a day this stage has cached: the write is retriable, then heals.
    const day = dayOf(now) + 100;
    const time = new Date(day * DAY_MS + 1000).toISOString();
    await stage.process(makeBatch([{ id: "gone-0", time }]));
    await admin.unsafe(`DROP TABLE "${schema}"."${partitionName(cfg.table, day)}"`);
    const again = makeBatch([{ id: "gone-1", time }]);
    const err = await stage.process(again).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PersistError);
    expect((err as PersistError).code).toBe("PERSIST_TRANSIENT");
    expect((err as PersistError).retriable).toBe(true);
    await stage.process(again);
    expect(again.status[0]).toBe(EventStatus.Persisted);
    expect(await count(table)).toBe(4);
  });

  test("health answers while started and reports not ok after close", async () => {
    const { stage } = await startStage();
    expect(await stage.health()).toEqual({ ok: true });
    await stage.close();
    expect((await stage.health()).ok).toBe(false);
  });
}

/** What the engine does with a batch: retry retriable failures with the events still Live. */
async function processLikeEngine(stage: PersistStage, batch: Batch): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await stage.process(batch);
    } catch (err) {
      if (!(err instanceof PersistError) || !err.retriable || attempt >= 5) throw err;
    }
  }
}
