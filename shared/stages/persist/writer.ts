/**
 * Writes one chunk of a batch durably and says which of its events are stored and which were duplicates.
 *
 * "Stored" means the event's row is in the table with this event's own Kafka position: inserted now, or by
 * an earlier attempt for the same record whose COMMIT went through but whose acknowledgement was lost.
 * Counting those as duplicates would make a retried batch report rows it did write as dropped. A row with
 * the same identity but another Kafka position is a real duplicate. When the mapping does not store the
 * Kafka position the writer falls back to RETURNING, which knows only what this statement inserted.
 *
 * Nothing here marks the batch: the caller does, after the promise resolves, i.e. after COMMIT.
 */
import type { Sql, TransactionSql } from "postgres";
import type { Batch } from "../batch.ts";
import { columnValue } from "./columns.ts";
import { copyIn } from "./copy-in.ts";
import { inTransaction } from "./pg-driver.ts";
import { sqlstateOf } from "./sqlstate.ts";
import type { WritePlan } from "./write-plan.ts";

/** How rows reach the table: COPY (fastest, real PostgreSQL) or INSERT ... SELECT FROM unnest (portable). */
export type WriteMethod = "copy" | "unnest";

const UNIQUE_VIOLATION = "23505";
/** Chunks sent through staging after a conflict before the direct COPY is tried again. */
const STAGING_AFTER_CONFLICT = 16;

/** Writes chunks of batches with one method. */
export class ChunkWriter {
  private stagingChunksLeft = 0;

  constructor(
    private readonly sql: Sql,
    private readonly plan: WritePlan,
    readonly method: WriteMethod,
  ) {}

  /** Writes the events at `indexes` (one transaction) and returns the subset that is stored. */
  async write(batch: Batch, indexes: readonly number[]): Promise<Set<number>> {
    const ords = this.method === "copy" ? await this.viaCopy(batch, indexes) : await this.viaUnnest(batch, indexes);
    if (ords === "all") return new Set(indexes);
    const stored = new Set<number>();
    for (const ord of ords) stored.add(indexes[ord - 1]);
    return stored;
  }

  /**
   * Optimistic: COPY straight into the table, which is all-or-nothing and about twice as fast as staging
   * (no second pass over the rows). A unique violation means some rows exist already; the chunk then goes
   * through the staging table, and so do the next few chunks, since conflicts come in runs (a replay).
   */
  private async viaCopy(batch: Batch, indexes: readonly number[]): Promise<"all" | number[]> {
    const lines = batch.events!.copyLines;
    if (this.stagingChunksLeft === 0) {
      try {
        await inTransaction(this.sql, (tx) => copyIn(tx, this.plan.copyIntoTarget, copyText(lines, indexes, false)));
        return "all";
      } catch (err) {
        if (sqlstateOf(err) !== UNIQUE_VIOLATION) throw err;
        this.stagingChunksLeft = STAGING_AFTER_CONFLICT;
      }
    } else this.stagingChunksLeft--;
    return this.viaStaging(lines, batch, indexes);
  }

  /** COPY into the connection's staging table, then one INSERT ... SELECT ON CONFLICT DO NOTHING. */
  private viaStaging(lines: readonly string[], batch: Batch, indexes: readonly number[]): Promise<"all" | number[]> {
    const text = copyText(lines, indexes, true);
    // The staging table is per connection, so everything runs inside one transaction on one connection;
    // ON COMMIT DELETE ROWS empties it for the next batch (and a rollback discards it).
    return inTransaction(this.sql, async (tx) => {
      await tx.unsafe(this.plan.createStaging);
      await copyIn(tx, this.plan.copyIntoStaging, text);
      if (!this.plan.matchesOwnRows) return ordinals(await tx.unsafe(this.plan.insertFromStagingReturning));
      const res = await tx.unsafe(this.plan.insertFromStaging);
      if (res.count === indexes.length) return "all";
      return this.ownRows(tx, batch, indexes);
    });
  }

  /** One INSERT ... SELECT FROM unnest($1::text[], ...): a single statement, so no explicit transaction. */
  private async viaUnnest(batch: Batch, indexes: readonly number[]): Promise<"all" | number[]> {
    const ev = batch.events!;
    const params = this.plan.columns.mapping.map((c) => indexes.map((i) => asText(columnValue(c.from, ev, batch.records, i))));
    if (!this.plan.matchesOwnRows) return ordinals(await this.sql.unsafe(this.plan.insertFromUnnestReturning, params));
    const res = await this.sql.unsafe(this.plan.insertFromUnnest, params);
    if (res.count === indexes.length) return "all";
    // The INSERT has committed; this read sees it and any earlier attempt's rows.
    return this.ownRows(this.sql, batch, indexes);
  }

  /** Ordinals whose identity is in the table with this event's own Kafka partition and offset. */
  private async ownRows(db: Sql | TransactionSql, batch: Batch, indexes: readonly number[]): Promise<number[]> {
    const ev = batch.events!;
    const rec = batch.records;
    const params = [
      indexes.map((i) => ev.source[i]),
      indexes.map((i) => ev.id[i]),
      indexes.map((i) => ev.timeText[i]),
      indexes.map((i) => String(rec.partitions[i])),
      indexes.map((i) => String(rec.offsets[i])),
    ];
    return ordinals(await db.unsafe(this.plan.selectOwnRows, params));
  }
}

/** COPY text for the chunk; with the ordinal column for the staging table. */
function copyText(lines: readonly string[], indexes: readonly number[], withOrdinal: boolean): string {
  const parts = new Array<string>(indexes.length);
  for (let k = 0; k < indexes.length; k++) parts[k] = withOrdinal ? `${lines[indexes[k]]}\t${k + 1}\n` : `${lines[indexes[k]]}\n`;
  return parts.join("");
}

const ordinals = (rows: ReadonlyArray<Record<string, unknown>>): number[] => rows.map((r) => r.ord as number);

const asText = (v: string | number | null): string | null => (v === null ? null : typeof v === "number" ? String(v) : v);
