/** `--migrate` against the real PostgreSQL: creates the persist table, idempotently, and exits 0. */
import { afterAll, expect, test } from "bun:test";
import postgres from "postgres";
import { PG_URL, describeWith, uniqueName } from "../../dev/support/services.ts";
import { runCliToEnd } from "../../dev/support/cli-process.ts";
import { writeTopology } from "../../dev/support/topology.ts";
import { tempDir } from "../../dev/support/temp-dir.ts";

const tmp = tempDir("migrate");
afterAll(() => tmp.cleanup());

describeWith("postgres", "topology --migrate on PostgreSQL", () => {
  test("creates the partitioned table, is idempotent, and exits 0", async () => {
    const table = uniqueName("mig");
    const file = writeTopology(
      tmp.dir,
      `name: cli-migrate
source:
  mock:
    topics: [events]
stages:
  - enrich: {}
  - persist:
      url: \${MIGRATE_TEST_URL}
      table: ${table}
`,
    );
    const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
    try {
      for (let i = 0; i < 2; i++) {
        const r = await runCliToEnd([file, "--migrate", "--data-dir", tmp.dir], { MIGRATE_TEST_URL: PG_URL });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toBe(`migrated public.${table} (stage persist)\n`);
      }
      const [row] = await sql`SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname = ${table}`;
      expect(row?.relkind).toBe("p"); // a partitioned table
    } finally {
      await sql.unsafe(`DROP TABLE IF EXISTS public."${table}" CASCADE`);
      await sql.end();
    }
  }, 60_000);

  test("--migrate on a topology without a persist stage is a usage error (exit 2)", async () => {
    const file = writeTopology(
      tmp.dir,
      `name: cli-no-persist
source:
  mock:
    topics: [events]
stages:
  - custom:
      module: ${import.meta.dir}/../runtime/supervisor/fixtures/record-stage.ts
`,
      "no-persist.yaml",
    );
    const r = await runCliToEnd([file, "--migrate", "--data-dir", tmp.dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("has no persist stage");
  });
});
