/**
 * The transaction-level advisory lock every schema change of the stage takes first (migration, partition
 * creation and drops). Workers starting together would otherwise race on CREATE ... IF NOT EXISTS, which
 * is not safe against a concurrent creator (it fails with 23505 / 42P07 instead of skipping).
 */
import type { TransactionSql } from "postgres";

/** First key of the lock pair: 'topo' in ASCII, so the stage's locks are recognisable in pg_locks. */
const LOCK_NAMESPACE = 0x746f706f;

/** Blocks until this transaction owns DDL for `schema`; released by COMMIT / ROLLBACK. */
export async function lockSchemaDdl(tx: TransactionSql, schema: string): Promise<void> {
  await tx.unsafe("SELECT pg_advisory_xact_lock($1::int4, hashtext($2))", [LOCK_NAMESPACE, schema]);
}
