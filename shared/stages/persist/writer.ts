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
import { rowValues } from "./columns.ts";
import { copyLine } from "./copy-text.ts";
import { copyIn } from "./copy-in.ts";
import { copyPayload, unnestParams, type CopyData } from "./copy-payload.ts";
import { inTransaction } from "./pg-driver.ts";
import { sqlstateOf } from "./sqlstate.ts";
import type { WritePlan } from "./write-plan.ts";

/** How rows reach the table: COPY (fastest, real PostgreSQL) or INSERT ... SELECT FROM unnest (portable). */
export type WriteMethod = "copy" | "unnest";

const UNIQUE_VIOLATION = "23505";
/** Chunks sent through staging after a replay-like conflict before the direct COPY is tried again. */
const STAGING_AFTER_REPLAY = 16;
/**
 * A conflicting chunk in which at least this share of rows already existed looks like a replay (a
 * re-delivery after a crash or a rebalance: runs of rows that are all in the table), so the next chunks go
 * straight to staging instead of failing a COPY each. A few conflicting rows are a race with another batch
 * holding the same events, and the next chunk is tried with COPY again.
 */
const REPLAY_SHARE = 0.1;
/**
 * Conflict-tolerant writes of at most this many rows use one INSERT ... FROM unnest (one round trip) rather
 * than the staging table (BEGIN, CREATE TEMP TABLE, COPY, INSERT, COMMIT); beyond it, COPY's cheaper
 * per-row cost wins.
 */
const UNNEST_MAX_ROWS = 500;

/** Ordinals (1-based positions in the chunk) of the stored rows, or "all". */
type Stored = "all" | number[];

/** Writes chunks of batches with one method. */
export class ChunkWriter {
  private stagingChunksLeft = 0;

  constructor(
    private readonly sql: Sql,
    private readonly plan: WritePlan,
    readonly method: WriteMethod,
  ) {}

  /**
   * Writes the events at `indexes` (ascending; one transaction) and returns the subset that is stored.
   * Optimistic: a direct COPY, which fails as a whole when any row exists already; see viaCopy.
   */
  async write(batch: Batch, indexes: readonly number[]): Promise<StoredIndexes> {
    return storedIndexes(indexes, this.method === "copy" ? await this.viaCopy(batch, indexes) : await this.viaUnnest(batch, indexes));
  }

  /**
   * Like write, for rows that may well exist already (events the dedupe stage verified as new while another
   * batch may have been writing them): ON CONFLICT DO NOTHING from the start, never a failed COPY.
   */
  async writeTolerant(batch: Batch, indexes: readonly number[]): Promise<StoredIndexes> {
    const viaUnnest = this.method === "unnest" || indexes.length <= UNNEST_MAX_ROWS;
    return storedIndexes(indexes, viaUnnest ? await this.viaUnnest(batch, indexes) : (await this.viaStaging(batch, indexes)).stored);
  }

  /**
   * COPY straight into the table, which is all-or-nothing and about twice as fast as staging (no second
   * pass over the rows). A unique violation means some rows exist already; the chunk then goes through the
   * staging table, and when many of its rows existed (a replay) so do the next chunks.
   */
  private async viaCopy(batch: Batch, indexes: readonly number[]): Promise<Stored> {
    if (this.stagingChunksLeft === 0) {
      try {
        await inTransaction(this.sql, (tx) => copyIn(tx, this.plan.copyIntoTarget, this.payload(batch, indexes, false)));
        return "all";
      } catch (err) {
        if (sqlstateOf(err) !== UNIQUE_VIOLATION) throw err;
      }
      const { stored, inserted } = await this.viaStaging(batch, indexes);
      if (indexes.length - inserted >= Math.max(1, indexes.length * REPLAY_SHARE)) this.stagingChunksLeft = STAGING_AFTER_REPLAY;
      return stored;
    }
    this.stagingChunksLeft--;
    return (await this.viaStaging(batch, indexes)).stored;
  }

  /** COPY into the connection's staging table, then one INSERT ... SELECT ON CONFLICT DO NOTHING. */
  private viaStaging(batch: Batch, indexes: readonly number[]): Promise<{ stored: Stored; inserted: number }> {
    const data = this.payload(batch, indexes, true);
    // The staging table is per connection, so everything runs inside one transaction on one connection;
    // ON COMMIT DELETE ROWS empties it for the next batch (and a rollback discards it).
    return inTransaction(this.sql, async (tx) => {
      await tx.unsafe(this.plan.createStaging);
      await copyIn(tx, this.plan.copyIntoStaging, data);
      if (!this.plan.matchesOwnRows) {
        const ords = ordinals(await tx.unsafe(this.plan.insertFromStagingReturning));
        return { stored: ords, inserted: ords.length };
      }
      const res = await tx.unsafe(this.plan.insertFromStaging);
      if (res.count === indexes.length) return { stored: "all" as const, inserted: res.count };
      return { stored: await this.ownRows(tx, batch, indexes), inserted: res.count };
    });
  }

  /** The chunk's COPY data; events changed after enrich are encoded again from their columns. */
  private payload(batch: Batch, indexes: readonly number[], withOrdinal: boolean): CopyData {
    const ev = batch.events!;
    const mapping = this.plan.columns.mapping;
    const reencode = batch.dirty.size ? { dirty: batch.dirty, line: (i: number) => copyLine(rowValues(mapping, ev, batch.records, i)) } : null;
    return copyPayload(ev, indexes, withOrdinal, reencode);
  }

  /** One INSERT ... SELECT FROM unnest($1::text[], ...): a single statement, so no explicit transaction. */
  private async viaUnnest(batch: Batch, indexes: readonly number[]): Promise<Stored> {
    const ev = batch.events!;
    const mapping = this.plan.columns.mapping;
    const params = unnestParams(ev, indexes, mapping.length, (i) => rowValues(mapping, ev, batch.records, i), batch.dirty);
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

/** Which of a chunk's batch indexes are stored: all of them, or those in the set. */
export type StoredIndexes = "all" | Set<number>;

/** The batch indexes of the stored ordinals. */
function storedIndexes(indexes: readonly number[], stored: Stored): StoredIndexes {
  if (stored === "all") return "all";
  const out = new Set<number>();
  for (const ord of stored) out.add(indexes[ord - 1]);
  return out;
}

const ordinals = (rows: ReadonlyArray<Record<string, unknown>>): number[] => rows.map((r) => r.ord as number);
