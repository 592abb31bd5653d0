/**
 * The sink conformance suite over the persist sink: real PostgreSQL with COPY and with unnest, and embedded
 * PGlite through its TCP server. Each backend sits behind a gate proxy, so the outage case can cut it off.
 */
import { afterAll, beforeAll, describe } from "bun:test";
import postgres, { type Sql } from "postgres";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../../shared/embedded/index.ts";
import { persistConfig } from "../../../dev/support/stage-configs.ts";
import { PG_URL, describeWith, uniqueName } from "../../../dev/support/services.ts";
import { tempDir, type TempDir } from "../../../dev/support/temp-dir.ts";
import { sinkConformance, type SinkBackend } from "./conformance.ts";
import { startGateProxy, type GateProxy } from "./gate-proxy.ts";

/** A persist backend on the server at `url()` (resolved in beforeAll), writing with `method`. */
function persistBackend(url: () => string, method: "copy" | "unnest"): SinkBackend {
  let gate: GateProxy;
  let admin: Sql;
  beforeAll(async () => {
    gate = await startGateProxy(url(), 5432);
    admin = postgres(url(), { max: 1, onnotice: () => undefined });
  });
  afterAll(async () => {
    await admin?.end();
    await gate?.close();
  });
  return {
    copiesAfterRedelivery: 1,
    noOutage: null,
    async fresh() {
      const cfg = persistConfig({ url: gate.url, table: uniqueName("sink"), method, connections: 2 });
      const table = `"public"."${cfg.table}"`;
      return {
        config: cfg,
        async copies() {
          const rows = await admin.unsafe(`SELECT id, count(*)::int AS n FROM ${table} GROUP BY id`);
          return new Map(rows.map((r) => [r.id as string, r.n as number]));
        },
        async stored(id) {
          const [row] = await admin.unsafe(`SELECT subject, extensions FROM ${table} WHERE id = $1`, [id]);
          return { subject: row.subject, extensions: row.extensions };
        },
        async poison() {
          await admin.unsafe(`ALTER TABLE ${table} ADD CONSTRAINT no_poison CHECK (subject IS DISTINCT FROM 'poison')`);
          return { event: { subject: "poison" }, code: "PG_23514" };
        },
        async outage() {
          gate.shut();
          return async () => gate.open();
        },
        async cleanup() {
          await admin.unsafe(`DROP TABLE IF EXISTS ${table} CASCADE`);
        },
      };
    },
  };
}

describeWith("postgres", "sink conformance: persist on PostgreSQL (COPY)", () => sinkConformance(persistBackend(() => PG_URL, "copy")));
describeWith("postgres", "sink conformance: persist on PostgreSQL (unnest)", () => sinkConformance(persistBackend(() => PG_URL, "unnest")));

describe("sink conformance: persist on embedded PostgreSQL (PGlite)", () => {
  let dir: TempDir;
  let pg: EmbeddedPostgres;
  beforeAll(async () => {
    dir = tempDir("sink-pglite");
    pg = await startEmbeddedPostgres({ dataDir: dir.dir });
  });
  afterAll(async () => {
    await pg?.stop();
    dir?.cleanup();
  });
  sinkConformance(persistBackend(() => pg.url, "copy"));
});
