/**
 * Transactions and pool shutdown around three defects of the `postgres` driver 3.4.9 that a lost
 * connection triggers (found with pg_terminate_backend in the fault tests):
 *
 * 1. `sql.begin` answers a rejected callback with ROLLBACK on the same connection. When the connection is
 *    already closed that query is written to a null socket from a setImmediate, an uncaught TypeError
 *    ("null is not an object (evaluating 'socket.write')") that would take the worker down. `begin`
 *    itself already rejects through its own onclose race, so `inTransaction` lets the callback stay
 *    pending when the socket is gone, and postgres.js never writes that ROLLBACK (the server rolls the
 *    transaction back when the session ends).
 * 2. A connection closed while a query was in flight keeps that query as "current", so `sql.end()`
 *    waits for it forever (porsager/postgres#1097, fix proposed in #1142). `closePool` always passes a
 *    timeout, after which the driver terminates the stranded connection.
 * 3. COPY writables; see copy-in.ts.
 */
import type { Sql, TransactionSql } from "postgres";

/** Driver codes meaning the socket is closed, so no further query may be written on it. */
const SOCKET_GONE = new Set(["CONNECTION_CLOSED", "ECONNRESET", "EPIPE"]);

/** True when `err` reports that the connection's socket is gone (not merely that a query failed). */
export function socketGone(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && SOCKET_GONE.has(code) && !(err as { severity?: unknown }).severity;
}

/** `sql.begin(fn)` that never makes the driver write ROLLBACK to a closed socket (see defect 1). */
export function inTransaction<T>(sql: Sql, fn: (tx: TransactionSql) => Promise<T>): Promise<T> {
  return sql.begin(async (tx) => {
    try {
      return await fn(tx);
    } catch (err) {
      // begin() rejects with the connection error through its onclose race; settling here would only
      // send the doomed ROLLBACK.
      if (socketGone(err)) return new Promise<never>(() => undefined);
      throw err;
    }
  }) as Promise<T>;
}

/**
 * Grace for idle connections to close. Callers end a pool only once nothing is in flight, so the wait
 * is for a stranded connection (defect 2), which the driver terminates when it runs out.
 */
const END_TIMEOUT_S = 0.5;

/** Ends a pool without hanging on a connection that was lost mid-query. */
export async function closePool(sql: Sql): Promise<void> {
  await sql.end({ timeout: END_TIMEOUT_S });
}
