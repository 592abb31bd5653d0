/**
 * Embedded PostgreSQL (shared/embedded): PGlite behind our TCP server, spoken to with the `postgres`
 * driver exactly as the persist stage does.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import postgres, { type Sql } from "postgres";
import { PersistError } from "../../../shared/errors/index.ts";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../../shared/embedded/index.ts";
import { tempDir } from "../../../dev/support/temp-dir.ts";

describe("embedded PostgreSQL server", () => {
  let dir: string;
  let pg: EmbeddedPostgres;
  const clients: Sql[] = [];
  const client = (max = 1, extra: Record<string, unknown> = {}): Sql => {
    const c = postgres(pg.url, { max, onnotice: () => undefined, ...extra });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    dir = tempDir("embedded").dir;
    pg = await startEmbeddedPostgres({ dataDir: join(dir, "main") });
    expect(pg.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end({ timeout: 1 })));
  });
  afterAll(async () => {
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("many connections at once never interleave each other's protocol messages", async () => {
    const a = client(4);
    const b = client(4);
    await a`CREATE TABLE interleave (k int PRIMARY KEY, v text)`;
    const jobs: Array<Promise<string>> = [];
    for (let i = 0; i < 200; i++) {
      const c = i % 2 ? a : b;
      jobs.push(
        c
          .begin(async (tx) => {
            await tx`INSERT INTO interleave VALUES (${i}, ${"v" + i})`;
            const [row] = await tx`SELECT v FROM interleave WHERE k = ${i}`;
            return row.v === "v" + i ? "ok" : `mismatch ${i}`;
          })
          .catch((e: Error) => e.message),
      );
      // Unnamed statements and portals with parameters: what the socket package's multiplexer broke.
      jobs.push(c`SELECT ${i}::int AS k, ${"x" + i}::text AS s`.then(([r]) => (r.k === i && r.s === "x" + i ? "ok" : `mixed ${i}`)).catch((e: Error) => e.message));
    }
    const results = await Promise.all(jobs);
    expect(results.filter((r) => r !== "ok")).toEqual([]);
    expect((await a`SELECT count(*)::int AS n FROM interleave`)[0].n).toBe(200);
  });

  test("a transaction keeps the session until it commits; others wait and then see its rows", async () => {
    const a = client();
    const b = client();
    await a`CREATE TABLE held (k int)`;
    const writer = a.begin(async (tx) => {
      await tx`INSERT INTO held VALUES (1)`;
      await Bun.sleep(200);
    });
    await Bun.sleep(50);
    // On a real server this would answer 0 at once (READ COMMITTED); here it waits for the COMMIT.
    const [row] = await b`SELECT count(*)::int AS n FROM held`;
    await writer;
    expect(row.n).toBe(1);
  });

  test("a client that vanishes inside a transaction is rolled back and frees the session", async () => {
    const a = client();
    const b = client();
    await b`CREATE TABLE vanished (k int)`;
    const abandoned = a.begin(async (tx) => {
      await tx`INSERT INTO vanished VALUES (1)`;
      await new Promise(() => undefined); // never commits
    });
    abandoned.catch(() => undefined);
    await Bun.sleep(100);
    await a.end({ timeout: 0 });
    const [row] = await b`SELECT count(*)::int AS n FROM vanished`;
    expect(row.n).toBe(0);
  });

  test("COPY FROM STDIN is refused with 0A000 (simple and extended protocol) and the database keeps serving", async () => {
    const a = client();
    await a`CREATE TABLE copy_target (k int)`;
    const simple = await a
      .begin(async (tx) => {
        const w = await tx`COPY copy_target (k) FROM STDIN`.writable();
        w.end("1\n");
      })
      .then(
        () => null,
        (e: { code?: string }) => e.code,
      );
    expect(simple).toBe("0A000");
    const extended = await a.unsafe("COPY copy_target (k) FROM STDIN", [], { prepare: true }).then(
      () => null,
      (e: { code?: string }) => e.code,
    );
    expect(extended).toBe("0A000");
    const [row] = await client()`SELECT count(*)::int AS n FROM copy_target`;
    expect(row.n).toBe(0);
  });

  test("a client asking for TLS is told no and continues in clear", async () => {
    const [row] = await client(1, { ssl: "prefer" })`SELECT 7 AS n`;
    expect(row.n).toBe(7);
  });

  test("data survives a restart on the same data directory, which one process owns at a time", async () => {
    const dataDir = join(dir, "restart");
    const first = await startEmbeddedPostgres({ dataDir });
    const second = await startEmbeddedPostgres({ dataDir }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(second).toBeInstanceOf(PersistError);
    expect((second as PersistError).code).toBe("PERSIST_FATAL");
    const c1 = postgres(first.url, { max: 1, onnotice: () => undefined });
    await c1`CREATE TABLE kept (v text)`;
    await c1`INSERT INTO kept VALUES ('still here')`;
    await c1.end();
    await first.stop();

    const again = await startEmbeddedPostgres({ dataDir });
    const c2 = postgres(again.url, { max: 1 });
    try {
      expect((await c2`SELECT v FROM kept`).map((r) => r.v)).toEqual(["still here"]);
    } finally {
      await c2.end();
      await again.stop();
    }
  });
});
