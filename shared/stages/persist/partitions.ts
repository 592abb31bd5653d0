/**
 * Daily RANGE partitions of the managed table, named `<table>_pYYYYMMDD` and covering one UTC day.
 *
 * Decision: no DEFAULT partition. Before a batch is written the stage makes sure a partition exists for
 * each distinct day in it (a cached set, so the common case costs nothing), which lets an event from any
 * day land without failing the batch. A DEFAULT partition would instead collect late and early rows in one
 * unindexed-by-day heap, and every later CREATE ... PARTITION OF for a day it holds rows for would fail.
 * The maintenance pass creates partitions ahead and drops those wholly older than the retention window;
 * only partitions with the stage's own naming are ever dropped.
 */
import type { Sql } from "postgres";
import { lockSchemaDdl } from "./ddl-lock.ts";
import { inTransaction } from "./pg-driver.ts";
import { quoteIdent, type Target } from "./sql-text.ts";

/** One UTC day; partitions never follow local time or DST. */
export const DAY_MS = 86_400_000;

/** The UTC day number (days since 1970-01-01) of an epoch-ms time. */
export const dayOf = (ms: number): number => Math.floor(ms / DAY_MS);

const DAY_SUFFIX = /_p(\d{8})$/;

/** `<table>_pYYYYMMDD` for a UTC day number. */
export function partitionName(table: string, day: number): string {
  return `${table}_p${new Date(day * DAY_MS).toISOString().slice(0, 10).replace(/-/g, "")}`;
}

/** The day a partition of `table` covers, or null when the name is not one of ours. */
export function partitionDay(table: string, name: string): number | null {
  if (!name.startsWith(table + "_p")) return null;
  const m = DAY_SUFFIX.exec(name);
  if (!m || name.length !== table.length + 10) return null;
  const s = m[1];
  const ms = Date.UTC(Number(s.slice(0, 4)), Number(s.slice(4, 6)) - 1, Number(s.slice(6, 8)));
  return Number.isNaN(ms) ? null : dayOf(ms);
}

/**
 * The start of a UTC day as a timestamptz literal PostgreSQL reads for any year: toISOString writes years past
 * 9999 as "+010000-01-01T…", which PostgreSQL takes for a time zone displacement (SQLSTATE 22009).
 */
export function dayBoundText(day: number): string {
  const d = new Date(day * DAY_MS);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${String(d.getUTCFullYear()).padStart(4, "0")}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} 00:00:00+00`;
}

/** What one maintenance pass did. */
export interface MaintenanceResult {
  created: string[];
  dropped: string[];
}

/** Creates, caches and retires the day partitions of one table. */
export class PartitionKeeper {
  private readonly known = new Set<number>();
  private stale = true;

  constructor(
    private readonly sql: Sql,
    private readonly target: Target,
  ) {}

  /** Makes sure every given day has a partition; one DDL transaction for all the missing ones. */
  async ensure(days: Iterable<number>): Promise<string[]> {
    if (this.stale) await this.reload();
    const missing = [...new Set(days)].filter((d) => Number.isFinite(d) && !this.known.has(d));
    if (missing.length === 0) return [];
    const created = await inTransaction(this.sql, async (tx) => {
      await lockSchemaDdl(tx, this.target.schema);
      const made: string[] = [];
      for (const day of missing.sort((a, b) => a - b)) {
        const name = partitionName(this.target.table, day);
        const from = dayBoundText(day);
        const to = dayBoundText(day + 1);
        // IF NOT EXISTS: another worker may have made it while we waited for the lock.
        await tx.unsafe(
          `CREATE TABLE IF NOT EXISTS ${quoteIdent(this.target.schema)}.${quoteIdent(name)} ` +
            `PARTITION OF ${this.target.sql} FOR VALUES FROM ('${from}') TO ('${to}')`,
        );
        made.push(name);
      }
      return made;
    });
    for (const d of missing) this.known.add(d);
    return created;
  }

  /** Forgets the cache (another worker dropped a partition we thought existed); reloaded on next use. */
  invalidate(): void {
    this.stale = true;
  }

  /** Creates today .. today+aheadDays and drops partitions that end at or before now - retentionDays. */
  async maintain(now: number, aheadDays: number, retentionDays: number): Promise<MaintenanceResult> {
    const today = dayOf(now);
    const ahead: number[] = [];
    for (let d = today; d <= today + aheadDays; d++) ahead.push(d);
    const created = await this.ensure(ahead);
    const cutoff = now - retentionDays * DAY_MS;
    const existing = await this.list();
    const expired = existing.filter((p) => (p.day + 1) * DAY_MS <= cutoff);
    if (expired.length) {
      await inTransaction(this.sql, async (tx) => {
        await lockSchemaDdl(tx, this.target.schema);
        for (const p of expired) await tx.unsafe(`DROP TABLE IF EXISTS ${quoteIdent(this.target.schema)}.${quoteIdent(p.name)}`);
      });
      for (const p of expired) this.known.delete(p.day);
    }
    return { created, dropped: expired.map((p) => p.name) };
  }

  /** The stage-named partitions that exist now. */
  async list(): Promise<Array<{ name: string; day: number }>> {
    const rows = await this.sql.unsafe<Array<{ name: string }>>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass($1)`,
      [this.target.sql],
    );
    const out: Array<{ name: string; day: number }> = [];
    for (const r of rows) {
      const day = partitionDay(this.target.table, r.name);
      if (day !== null) out.push({ name: r.name, day });
    }
    return out;
  }

  private async reload(): Promise<void> {
    const parts = await this.list();
    this.known.clear();
    for (const p of parts) this.known.add(p.day);
    this.stale = false;
  }
}
