/**
 * Test fixture for the dedupe stage: a small real PostgreSQL-backed identity store (batches are built by
 * dev/support/dedupe-batches.ts). Nothing here fakes Redis or PostgreSQL.
 */
import postgres from "postgres";
import type { Batch } from "../../../shared/stages/batch.ts";
import type { IdentityStore, Stage, StageContext, StageHealth } from "../../../shared/stages/stage.ts";
import { PersistError } from "../../../shared/errors/index.ts";
import { PG_URL, uniqueName } from "../../../dev/support/services.ts";

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

/** Record indexes with the given status. */
export function indexesWith(batch: Batch, status: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < batch.size; i++) if (batch.status[i] === status) out.push(i);
  return out;
}

