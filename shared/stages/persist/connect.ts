/**
 * Connecting the persist stage: the `postgres` pool, the embedded database when the URL says "embedded",
 * and the server kind (PGlite behind the embedded server cannot take COPY FROM STDIN).
 */
import { join } from "node:path";
import type { Logger } from "pino";
import postgres, { type Sql } from "postgres";
import { ConfigError } from "../../errors/index.ts";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../embedded/index.ts";

import { EMBEDDED_URL } from "./config.ts";
import { copySocketFactory } from "./copy-socket.ts";

/** A database URL ready for the driver, plus the embedded server the stage started (if any). */
export interface ResolvedDatabase {
  url: string;
  embedded: EmbeddedPostgres | null;
}

/** Resolves "embedded" by starting PGlite in `<dataDir>/postgres`; any other URL passes through. */
export async function resolveDatabase(url: string, dataDir: string | undefined, logger: Logger): Promise<ResolvedDatabase> {
  if (url !== EMBEDDED_URL) return { url, embedded: null };
  if (!dataDir) throw new ConfigError("CONFIG_INVALID", `persist url "${EMBEDDED_URL}" needs a data directory for PGlite`);
  const embedded = await startEmbeddedPostgres({ dataDir: join(dataDir, "postgres"), logger });
  return { url: embedded.url, embedded };
}

/**
 * Opens a pool of `max` connections; notices go to the debug log, never to stdout. Its sockets are made by
 * copy-socket.ts, so COPY data can be written to them directly.
 */
export function openPool(url: string, max: number, name: string, logger: Logger): Sql {
  // The driver supports `socket` (a factory) but its type declarations do not list it.
  const own = { socket: copySocketFactory() };
  return postgres(url, {
    ...own,
    max,
    connect_timeout: 10,
    onnotice: (n) => logger.debug({ notice: n.message, sqlstate: n.code }, "postgres notice"),
    // Lets operators (and the fault tests) find the stage's sessions in pg_stat_activity.
    connection: { application_name: `topofleet-persist:${name}` },
  });
}

/** Which server answers: PGlite reports itself in version(). */
export async function detectBackend(sql: Sql): Promise<"postgres" | "pglite"> {
  const [row] = await sql.unsafe<Array<{ v: string }>>("SELECT version() AS v");
  return /PGlite/i.test(row.v) ? "pglite" : "postgres";
}
