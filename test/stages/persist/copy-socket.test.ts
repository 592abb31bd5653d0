/**
 * COPY data written straight to the pool's own sockets (copy-socket.ts), and copy-in.ts's fallback through
 * the driver when the socket is not ours. Each test reads back what PostgreSQL stored.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres, { type Sql } from "postgres";
import { openPool } from "../../../shared/stages/persist/connect.ts";
import { copyIn } from "../../../shared/stages/persist/copy-in.ts";
import { claimSocket, writeCopyData } from "../../../shared/stages/persist/copy-socket.ts";
import { inTransaction } from "../../../shared/stages/persist/pg-driver.ts";
import { describeWith, PG_URL } from "../../../dev/support/services.ts";
import { testLogger } from "../../../dev/support/stage-context.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const never = new Promise<never>(() => undefined);

describeWith("postgres", "COPY data on the pool's own sockets", () => {
  let pool: Sql;

  beforeAll(() => {
    pool = openPool(PG_URL, 2, "copy-socket-test", testLogger);
  });

  afterAll(async () => {
    await pool.end();
  });

  /** Runs `fill` on a COPY into a fresh temp table (a text, n int) and returns its rows. */
  async function copied(sql: Sql, fill: (stream: NodeJS.WritableStream) => Promise<void>): Promise<Array<{ a: string; n: number }>> {
    return inTransaction(sql, async (tx) => {
      await tx.unsafe("CREATE TEMP TABLE copy_socket_t (a text, n int) ON COMMIT DROP");
      const stream = (await tx.unsafe("COPY copy_socket_t FROM STDIN").writable()) as NodeJS.WritableStream;
      await fill(stream);
      return (await tx.unsafe("SELECT a, n FROM copy_socket_t ORDER BY n")) as unknown as Array<{ a: string; n: number }>;
    });
  }

  const ended = (stream: NodeJS.WritableStream) => new Promise<void>((resolve, reject) => stream.end(() => resolve()).on("error", reject));

  test("the socket is found, and parts split anywhere arrive as the same bytes over many messages", async () => {
    // Parts cut inside lines and inside a multi-byte character; tiny pieces and messages.
    const text = "a\t1\nünï\\\\code\t2\nc\t3\n";
    const all = bytes(text);
    const parts = [all.subarray(0, 3), all.subarray(3, 6), all.subarray(6, 7), all.subarray(7)];
    const rows = await copied(pool, async (stream) => {
      const socket = claimSocket(stream);
      expect(socket).not.toBeNull();
      await writeCopyData(socket!, parts, never, { pieceBytes: 2, messageBytes: 5 });
      await ended(stream);
    });
    expect(rows).toEqual([
      { a: "a", n: 1 },
      { a: "ünï\\code", n: 2 },
      { a: "c", n: 3 },
    ]);
    // The probe left the sockets as they were: the pool still works.
    expect((await pool.unsafe("SELECT 1 AS one"))[0].one).toBe(1);
  });

  test("a chunk far larger than the socket takes at once waits for it to drain and arrives whole", async () => {
    const n = 60_000;
    const lines = Array.from({ length: n }, (_, k) => `${"x".repeat(40)}-${k}\t${k}\n`).join("");
    const all = bytes(lines);
    // Runs with gaps, as a batch's live events are.
    const parts = [all.subarray(0, 1_000_000), all.subarray(1_000_000, 1_000_100), all.subarray(1_000_100)];
    const rows = await copied(pool, async (stream) => {
      const socket = claimSocket(stream);
      expect(socket).not.toBeNull();
      await writeCopyData(socket!, parts, never);
      await ended(stream);
    });
    expect(rows.length).toBe(n);
    expect(rows[n - 1]).toEqual({ a: `${"x".repeat(40)}-${n - 1}`, n: n - 1 });
  });

  test("copyIn writes byte parts directly, and a row the server refuses fails it with the SQLSTATE", async () => {
    const parts = [bytes("a\t1\n"), bytes("b\t2\n")];
    const ok = await inTransaction(pool, async (tx) => {
      await tx.unsafe("CREATE TEMP TABLE copy_in_t (a text, n int) ON COMMIT DROP");
      await copyIn(tx, "COPY copy_in_t FROM STDIN", parts);
      return tx.unsafe("SELECT count(*)::int AS c FROM copy_in_t");
    });
    expect(ok[0].c).toBe(2);
    const bad = inTransaction(pool, async (tx) => {
      await tx.unsafe("CREATE TEMP TABLE copy_in_t (a text, n int) ON COMMIT DROP");
      await copyIn(tx, "COPY copy_in_t FROM STDIN", [bytes("a\t1\n"), bytes("b\tnot-a-number\n")]);
    });
    await expect(bad).rejects.toMatchObject({ code: "22P02" });
    expect((await pool.unsafe("SELECT 1 AS one"))[0].one).toBe(1);
  });

  test("on a pool whose sockets are the driver's, no socket is claimed and copyIn writes through the driver", async () => {
    const plain = postgres(PG_URL, { max: 1, onnotice: () => undefined });
    try {
      const rows = await copied(plain, async (stream) => {
        expect(claimSocket(stream)).toBeNull();
        // The probe's empty CopyData message went to the server through the driver: harmless.
        stream.write(Buffer.from("a\t1\n"));
        await ended(stream);
      });
      expect(rows).toEqual([{ a: "a", n: 1 }]);
      const viaCopyIn = await inTransaction(plain, async (tx) => {
        await tx.unsafe("CREATE TEMP TABLE copy_in_t (a text, n int) ON COMMIT DROP");
        await copyIn(tx, "COPY copy_in_t FROM STDIN", [bytes("a\t1\nb"), bytes("\t2\n")]);
        return tx.unsafe("SELECT count(*)::int AS c FROM copy_in_t");
      });
      expect(viaCopyIn[0].c).toBe(2);
    } finally {
      await plain.end();
    }
  });

  test("with several hosts, a connection tries the next one after a refused connect, as the driver does", async () => {
    const url = new URL(PG_URL);
    const hosts = `127.0.0.1:1,${url.hostname}:${url.port || 5432}`;
    const multi = openPool(`${url.protocol}//${url.username}${url.password ? ":" + url.password : ""}@${hosts}${url.pathname}`, 1, "copy-socket-multi", testLogger);
    try {
      expect((await multi.unsafe("SELECT 1 AS one"))[0].one).toBe(1);
    } finally {
      await multi.end();
    }
  });
});
