/**
 * A TCP server that speaks the PostgreSQL wire protocol in front of one PGlite instance, so clients use
 * the same `postgres` driver code path as against a real server.
 *
 * Any number of clients may connect; they share PGlite's single backend session and take turns
 * (see WireConnection). What that implies for clients, measured with PGlite 0.5.16 (PostgreSQL 18.6):
 * - session state is shared: temp tables, SET, prepared statement names (postgres.js names its statements
 *   with a random per-connection prefix, so they do not collide);
 * - COPY ... FROM STDIN does not work over the wire (PGlite reads COPY data only from its /dev/blob device);
 * - pg_terminate_backend / pg_cancel_backend have no effect; cancel requests are ignored.
 */
import { createServer, type Server, type Socket } from "node:net";
import type { PGlite } from "@electric-sql/pglite";
import { SessionLock } from "./session-lock.ts";
import { WireConnection } from "./wire-connection.ts";

/** The listening server; `stop()` closes every connection (rolling back open transactions). */
export class PGliteWireServer {
  private readonly lock = new SessionLock();
  private readonly connections = new Set<WireConnection>();
  private server: Server | null = null;

  /** `onError` hears failures inside PGlite while serving a client (the client itself is disconnected). */
  constructor(
    private readonly db: PGlite,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Listens on host:port (port 0 picks a free one) and resolves with the bound port. */
  async listen(host: string, port: number): Promise<number> {
    await this.db.waitReady;
    const server = createServer((socket: Socket) => {
      const c = new WireConnection(socket, this.db, this.lock, (gone) => this.connections.delete(gone), this.onError);
      this.connections.add(c);
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        const addr = server.address();
        if (addr === null || typeof addr !== "object") return reject(new Error("embedded server has no TCP address"));
        resolve(addr.port);
      });
    });
  }

  /** Connections currently open. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Stops accepting, closes every client and waits until none holds the session. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    const closing = [...this.connections];
    for (const c of closing) c.close();
    await Promise.all(closing.map((c) => c.settled()));
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
