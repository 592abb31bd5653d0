/**
 * Test fixture for the dedupe stage: batches with enriched events built the way the enrich stage builds them
 * (packRecords + EnrichedEvents + probes from bloom-math), a small real PostgreSQL-backed identity store, and
 * a StageContext. Nothing here fakes Redis or PostgreSQL.
 */
import type Redis from "ioredis";
import { resolvedTopology } from "../../support/topology.ts";
import postgres from "postgres";
import { Batch, type EnrichedEvents } from "../../../shared/stages/batch.ts";
import { packRecords } from "../../../shared/stages/records.ts";
import type { IdentityStore, Stage, StageContext, StageHealth } from "../../../shared/stages/stage.ts";
import { bloomLayout, probeStride, writeProbes } from "../../../shared/stages/dedupe/bloom-math.ts";
import { filterCapacity } from "../../../shared/stages/dedupe/sizing.ts";
import { PersistError } from "../../../shared/errors/index.ts";
import { Metrics } from "../../../shared/telemetry/metrics.ts";
import { createLogger } from "../../../shared/telemetry/logger.ts";
import type { DedupeStageConfig, ResolvedTopology, StageConfig } from "../../../shared/topology/types.ts";
import { PG_URL, REDIS_URL, uniqueName } from "../../support/services.ts";

/** One test event: its CloudEvents identity and tenant. */
export interface EventSpec {
  source: string;
  id: string;
  tenant?: string | null;
}

/** A dedupe config with a unique key prefix; override what the test is about. */
export function dedupeConfig(overrides: Partial<DedupeStageConfig> = {}): DedupeStageConfig {
  return {
    kind: "dedupe",
    name: "dedupe",
    backend: "memory",
    redisUrl: REDIS_URL,
    prefix: uniqueName("tf:dd"),
    keyFields: ["source", "id"],
    expectedPerWindow: 100_000,
    falsePositiveRate: 0.001,
    windowMs: 3_600_000,
    perTenant: false,
    tenantFilters: 16,
    bloom: { expansion: 2, nonScaling: false, maxFilters: 4 },
    onMaybeSeen: "verify",
    onRedisDown: "fail",
    redisMode: "bitmap",
    ...overrides,
  };
}

/** `n` distinct events `<prefix>-0 … <prefix>-(n-1)` from one source. */
export function events(prefix: string, n: number, source = "/test/source", tenant: string | null = null): EventSpec[] {
  return Array.from({ length: n }, (_, i) => ({ source, id: `${prefix}-${i}`, tenant }));
}

/**
 * A batch whose `events` are filled as the enrich stage fills them: dedupe key = key fields joined with
 * "\u0000", probes from `writeProbes` with the config's layout.
 */
export function makeBatch(specs: readonly EventSpec[], cfg: DedupeStageConfig): Batch {
  const records = packRecords(
    specs.map((e, i) => ({
      topic: "events",
      partition: 0,
      offset: i,
      value: JSON.stringify({ specversion: "1.0", source: e.source, id: e.id, type: "test.event" }),
    })),
  );
  const batch = new Batch(records);
  const layout = bloomLayout(filterCapacity(cfg), cfg.falsePositiveRate);
  const stride = probeStride(layout);
  const n = specs.length;
  const time = Date.UTC(2024, 0, 1);
  const ev: EnrichedEvents = {
    id: specs.map((e) => e.id),
    source: specs.map((e) => e.source),
    type: specs.map(() => "test.event"),
    subject: specs.map(() => null),
    time: new Float64Array(n).fill(time),
    timeText: specs.map(() => new Date(time).toISOString()),
    tenant: specs.map((e) => e.tenant ?? null),
    data: specs.map(() => null),
    extensions: specs.map(() => "{}"),
    ingestedAt: new Float64Array(n).fill(time),
    dedupeKey: specs.map((e) => cfg.keyFields.map((f) => (f === "source" ? e.source : f === "id" ? e.id : "")).join("\u0000")),
    probes: new Uint32Array(n * stride),
    probesPerKey: stride,
    copyLines: specs.map(() => ""),
  };
  for (let i = 0; i < n; i++) writeProbes(ev.dedupeKey[i], layout, ev.probes, i * stride);
  batch.events = ev;
  return batch;
}

/**
 * A minimal persist stage over a unique PostgreSQL table of (source, id): `process` inserts Live events with
 * ON CONFLICT DO NOTHING (inserted -> Persisted, conflicting -> Duplicate) and `existing` answers the
 * IdentityStore question in one query. Counts its `existing` calls so tests can assert one call per batch.
 */
export class PgIdentityStore implements Stage, IdentityStore {
  readonly kind = "persist";
  readonly name = "pg-identity";
  existingCalls = 0;
  private readonly sql = postgres(PG_URL, { max: 2, onnotice: () => {} });

  private constructor(readonly table: string) {}

  /** Creates a fresh table with a unique name. */
  static async create(): Promise<PgIdentityStore> {
    const store = new PgIdentityStore(uniqueName("dedupe_ids"));
    await store.sql`create table ${store.sql(store.table)} (source text not null, id text not null, primary key (source, id))`;
    return store;
  }

  async start(_ctx: StageContext): Promise<void> {}

  async existing(batch: Batch, indexes: readonly number[]): Promise<Set<number>> {
    this.existingCalls++;
    const ev = batch.events!;
    try {
      const rows = await this.sql<{ i: number }[]>`
        select u.i from unnest(${indexes as number[]}::int[], ${indexes.map((i) => ev.source[i])}::text[], ${indexes.map((i) => ev.id[i])}::text[]) as u(i, source, id)
        where exists (select 1 from ${this.sql(this.table)} t where t.source = u.source and t.id = u.id)`;
      return new Set(rows.map((r) => r.i));
    } catch (err) {
      throw new PersistError("PERSIST_SCHEMA", `identity lookup failed: ${(err as Error).message}`, { retriable: false, cause: err });
    }
  }

  async process(batch: Batch): Promise<void> {
    const ev = batch.events!;
    const live = batch.liveIndexes();
    if (live.length === 0) return;
    const rows = await this.sql<{ source: string; id: string }[]>`
      insert into ${this.sql(this.table)} (source, id)
      select * from unnest(${live.map((i) => ev.source[i])}::text[], ${live.map((i) => ev.id[i])}::text[])
      on conflict do nothing returning source, id`;
    const inserted = new Set(rows.map((r) => `${r.source}\u0000${r.id}`));
    for (const i of live) {
      if (inserted.has(`${ev.source[i]}\u0000${ev.id[i]}`)) batch.markPersisted(i);
      else batch.markDuplicate(i);
    }
  }

  /** Rows stored. */
  async count(): Promise<number> {
    const [{ n }] = await this.sql<{ n: number }[]>`select count(*)::int as n from ${this.sql(this.table)}`;
    return n;
  }

  /** Renames the table away (to make lookups fail) or back. */
  async hide(hidden: boolean): Promise<void> {
    const [from, to] = hidden ? [this.table, `${this.table}_hidden`] : [`${this.table}_hidden`, this.table];
    await this.sql`alter table ${this.sql(from)} rename to ${this.sql(to)}`;
  }

  async health(): Promise<StageHealth> {
    return { ok: true };
  }

  async close(): Promise<void> {}

  /** Drops the table and closes the pool. */
  async drop(): Promise<void> {
    await this.sql`drop table if exists ${this.sql(this.table)}`;
    await this.sql.end({ timeout: 5 });
  }
}

/** A resolved topology holding just the given stages (the dedupe stage reads nothing else from it). */
export function testTopology(stages: StageConfig[]): ResolvedTopology {
  return resolvedTopology(stages, { file: "/test/dedupe.yaml", name: "dedupe-test" });
}

const logger = createLogger({ level: process.env.TOPOFLEET_LOG_LEVEL ?? "warn", component: "dedupe-test" });

/** A StageContext for `stages` (the dedupe stage first, its IdentityStore after it). */
export function stageContext(stages: Stage[], cfg: DedupeStageConfig, metrics = new Metrics()): StageContext {
  return {
    topology: testTopology([cfg]),
    workerId: 0,
    logger,
    metrics,
    dataDir: "/tmp",
    stages,
  };
}

/** Record indexes with the given status. */
export function indexesWith(batch: Batch, status: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < batch.size; i++) if (batch.status[i] === status) out.push(i);
  return out;
}

/** Redis keys under `prefix` (SCAN, never KEYS), sorted. */
export async function scanKeys(redis: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    out.push(...batch);
    cursor = next;
  } while (cursor !== "0");
  return out.sort();
}
