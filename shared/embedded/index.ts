/**
 * Embedded PostgreSQL for the demo and tests: PGlite with its data directory on disk, served over TCP on
 * 127.0.0.1 so the persist stage talks to it through the same `postgres` driver as to a real server.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import type { Logger } from "pino";
import { PersistError } from "../errors/index.ts";
import { PGliteWireServer } from "./server.ts";

/** Where PGlite keeps its files and which port the server listens on. */
export interface EmbeddedPostgresOptions {
  /** Directory holding PGlite's data files (created when missing). One process at a time may own it. */
  dataDir: string;
  /** TCP port on 127.0.0.1; 0 or absent picks a free port. */
  port?: number;
  /** Where failures inside PGlite while serving a client are logged (default: a JSON line on stderr). */
  logger?: Logger;
}

/** A running embedded server. */
export interface EmbeddedPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  url: string;
  /** Closes every client connection, the server and the database (flushing it to disk). */
  stop(): Promise<void>;
}

const LOCK_FILE = "topofleet-embedded.pid";

/** Starts PGlite on `dataDir` and serves it on 127.0.0.1; see server.ts for how it differs from PostgreSQL. */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  mkdirSync(opts.dataDir, { recursive: true });
  const releaseDir = lockDataDir(opts.dataDir);
  let db: PGlite | null = null;
  try {
    db = await PGlite.create(join(opts.dataDir, "pgdata"));
    const log = opts.logger;
    const server = new PGliteWireServer(db, (err) =>
      log ? log.error({ err }, "embedded PostgreSQL failed while serving a client") : console.error(JSON.stringify({ msg: "embedded PostgreSQL failed while serving a client", err: String(err) })),
    );
    const port = await server.listen("127.0.0.1", opts.port ?? 0);
    const owned = db;
    let stopped: Promise<void> | null = null;
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      stop: () =>
        (stopped ??= (async () => {
          try {
            await server.stop();
            await owned.close();
          } finally {
            releaseDir();
          }
        })()),
    };
  } catch (err) {
    await db?.close().catch(() => undefined); // the start-up error below is the one worth reporting
    releaseDir();
    throw new PersistError("PERSIST_FATAL", `embedded PostgreSQL failed to start in ${opts.dataDir}: ${(err as Error).message}`, {
      retriable: false,
      cause: err,
      context: { dataDir: opts.dataDir },
    });
  }
}

/**
 * Claims the data directory for this process. Two PGlite instances on one directory corrupt it, and
 * PGlite itself does not lock, so a pid file does: a live owner is an error, a dead one's file is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const file = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: "wx" });
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const owner = Number(readFileSync(file, "utf8"));
      if (owner && isAlive(owner)) {
        throw new PersistError("PERSIST_FATAL", `embedded PostgreSQL data dir ${dataDir} is in use by process ${owner}`, {
          retriable: false,
          context: { dataDir, owner },
        });
      }
      rmSync(file, { force: true });
    }
  }
  throw new PersistError("PERSIST_FATAL", `could not lock embedded PostgreSQL data dir ${dataDir}`, { retriable: false, context: { dataDir } });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
