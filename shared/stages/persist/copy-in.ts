/**
 * COPY ... FROM STDIN through the `postgres` driver, with its failure path made observable.
 *
 * postgres 3.4.9 never settles the writable when the server rejects the COPY after `end()`
 * (porsager/postgres#1173, fix proposed in #1183): the server's ErrorResponse only reaches the query's
 * `reject`, which is a no-op because the query already resolved with the stream. Awaiting 'finish' alone
 * would hang the batch and leave the connection idle in an aborted transaction. So the query's `reject`
 * is wrapped to surface the real PostgresError (with its SQLSTATE), and whichever of success or error
 * comes first settles the call; the caller's transaction then rolls back normally.
 *
 * The same version's writable, when destroyed because the connection closed mid-COPY, writes CopyFail to
 * the socket the driver has just set to null (an uncaught TypeError). The stream is only ever destroyed
 * for a dead connection here (a server-side COPY error arrives after `end()`, when the driver has already
 * let go of the stream), so its destroy is narrowed to reporting the error.
 *
 * Byte parts go straight to the connection's socket when it is one of ours (copy-socket.ts); otherwise (TLS)
 * through the writable, one driver write per part.
 */
import { finished } from "node:stream/promises";
import type { TransactionSql } from "postgres";
import type { CopyData } from "./copy-payload.ts";
import { claimSocket, writeCopyData } from "./copy-socket.ts";

/** Streams `data` (complete COPY text-format lines, as text or UTF-8 byte parts) into `statement` and resolves when the server has it. */
export async function copyIn(tx: TransactionSql, statement: string, data: CopyData): Promise<void> {
  const query = tx.unsafe(statement) as unknown as { reject: (err: unknown) => void; writable(): Promise<NodeJS.WritableStream> };
  const failed = new Promise<never>((_, reject) => {
    const original = query.reject;
    query.reject = (err: unknown) => {
      original(err);
      reject(err);
    };
  });
  failed.catch(() => undefined); // settled through the race below; a late rejection has nobody to tell
  const stream = (await Promise.race([query.writable(), failed])) as NodeJS.WritableStream & {
    _destroy(err: Error | null, cb: (err?: Error | null) => void): void;
  };
  stream._destroy = (err, cb) => cb(err);
  if (typeof data === "string") stream.end(data);
  else {
    const socket = claimSocket(stream);
    if (socket) await writeCopyData(socket, data, failed);
    else for (const part of data) stream.write(part);
    // CopyDone, written by the driver after our bytes on the same socket.
    stream.end();
  }
  await Promise.race([finished(stream), failed]);
}
