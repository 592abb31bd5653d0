/**
 * PostgreSQL TLS is asked for in the URL (`?sslmode=require`): the persist stage built from a topology with
 * `url: ${DATABASE_URL}` must then hold only TLS sessions (pg_stat_ssl), plaintext ones with
 * `sslmode=disable`, and refuse to fall back to plaintext against a server without TLS. Runs against
 * PostgreSQL clusters this file starts on free ports (dev/faults), one serving TLS with a test CA.
 */
import { needsOf } from "../../shared/stages/registry.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import postgres from "postgres";
import { PostgresInstance, postgresBinDir } from "../../dev/faults/postgres-instance.ts";
import { makeTestCertificates, opensslAvailable } from "../../dev/faults/tls.ts";
import { TopofleetError } from "../../shared/errors/index.ts";
import { createStages } from "../../shared/stages/index.ts";
import type { Stage } from "../../shared/stages/stage.ts";
import { createLogger } from "../../shared/telemetry/logger.ts";
import { Metrics } from "../../shared/telemetry/metrics.ts";
import { parseTopology } from "../../shared/topology/index.ts";
import { leaks } from "./support.ts";
import { skipWithout } from "../../dev/support/services.ts";
import { tempDir } from "../../dev/support/temp-dir.ts";

const PASSWORD = "pg-pw-Tn6-planted";
const APP = "topofleet-persist:persist";

/** The persist stage of a minimal topology whose URL comes from DATABASE_URL, started. */
async function startPersist(url: string): Promise<Stage> {
  const topology = parseTopology(
    `name: pg-url-probe
source:
  kafka: {brokers: "127.0.0.1:9", topics: [events], group: probe}
stages:
  - enrich: {}
  - persist: {url: "\${DATABASE_URL}", table: ssl_probe, connections: 2}
`,
    "pg-url-probe.yaml",
    { DATABASE_URL: url },
  );
  const stages = await createStages(topology);
  const persist = stages.find((s) => s.kind === "persist")!;
  await persist.start({ topology, workerId: 0, logger: createLogger({ level: "warn" }), metrics: new Metrics(), dataDir: "/tmp", stages, needsOf });
  return persist;
}

/** `ssl` of every session of the persist stage, as PostgreSQL sees them. */
async function stageSessionsSsl(adminUrl: string): Promise<boolean[]> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<Array<{ ssl: boolean }>>`
      SELECT s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s ON s.pid = a.pid WHERE a.application_name = ${APP}`;
    return rows.map((r) => r.ssl);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** The URL with the planted password and a query string. */
const withPassword = (url: string, query: string) => {
  const u = new URL(url);
  u.password = PASSWORD;
  return `${u.toString()}${query}`;
};

let serversAvailable = opensslAvailable;
try {
  postgresBinDir();
} catch {
  serversAvailable = false;
}
const skip = skipWithout(serversAvailable, "PostgreSQL sslmode in the URL", "needs the openssl CLI and the PostgreSQL server binaries (initdb, pg_ctl)");

describe.skipIf(skip)("PostgreSQL sslmode in the URL", () => {
  let dir: string;
  let tls: PostgresInstance;
  let plain: PostgresInstance;
  beforeAll(async () => {
    dir = tempDir("sec-pg").dir;
    const certs = await makeTestCertificates(dir);
    [tls, plain] = await Promise.all([PostgresInstance.start({ ssl: certs }), PostgresInstance.start()]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([tls?.dispose(), plain?.dispose()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  test("sslmode=require: every session of the persist stage is TLS", async () => {
    const persist = await startPersist(withPassword(tls.url, "?sslmode=require"));
    try {
      expect((await persist.health()).ok).toBe(true);
      const ssl = await stageSessionsSsl(tls.url);
      expect(ssl.length).toBeGreaterThan(0);
      expect(ssl.every(Boolean)).toBe(true);
    } finally {
      await persist.close();
    }
  }, 60_000);

  test("sslmode=disable on the same server: plaintext sessions, so the URL is what decides", async () => {
    const persist = await startPersist(withPassword(tls.url, "?sslmode=disable"));
    try {
      expect((await persist.health()).ok).toBe(true);
      const ssl = await stageSessionsSsl(tls.url);
      expect(ssl.length).toBeGreaterThan(0);
      expect(ssl.some(Boolean)).toBe(false);
    } finally {
      await persist.close();
    }
  }, 60_000);

  test("sslmode=require against a server without TLS fails instead of falling back, without printing the password", async () => {
    let err: unknown = null;
    let persist: Stage | null = null;
    try {
      persist = await startPersist(withPassword(plain.url, "?sslmode=require"));
      const h = await persist.health();
      err = h.ok ? null : new Error(h.detail ?? "unhealthy");
    } catch (e) {
      err = e;
    } finally {
      await persist?.close().catch(() => undefined);
    }
    expect(err).not.toBeNull();
    expect(await stageSessionsSsl(plain.url)).toEqual([]);
    const text = err instanceof TopofleetError ? JSON.stringify(err.toJSON()) + err.message : String(err);
    expect(leaks(text, { password: PASSWORD })).toEqual([]);
  }, 60_000);
});
