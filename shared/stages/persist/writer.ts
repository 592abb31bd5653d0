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
import type { WritePlan } from "./write-plan.ts";

export type WriteMethod = "copy" | "unnest";

/** Writes chunks of batches with one method. */
export class ChunkWriter {
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

  /** COPY into the connection's staging table, then one INSERT ... SELECT, in one transaction. */
  private viaCopy(batch: Batch, indexes: readonly number[]): Promise<"all" | number[]> {
    const lines = batch.events!.copyLines;
    const parts = new Array<string>(indexes.length);
    for (let k = 0; k < indexes.length; k++) parts[k] = `${lines[indexes[k]]}\t${k + 1}\n`;
    const text = parts.join("");
    // The staging table is per connection, so everything runs inside one transaction on one connection;
    // ON COMMIT DELETE ROWS empties it for the next batch (and a rollback discards it).
    return this.sql.begin(async (tx) => {
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

const ordinals = (rows: ReadonlyArray<Record<string, unknown>>): number[] => rows.map((r) => r.ord as number);

const asText = (v: string | number | null): string | null => (v === null ? null : typeof v === "number" ? String(v) : v);
