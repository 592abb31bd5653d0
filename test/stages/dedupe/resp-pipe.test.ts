/**
 * The Redis filters' own RESP path: the incremental reader (resp-reader.ts) on every possible chunk split,
 * and the pipe (resp-pipe.ts) against real Redis servers: bits equal to what ioredis reads, error replies,
 * AUTH + SELECT from the URL, fail-fast while down, reconnect when back, and the command timeout.
 */
import { afterAll, describe, expect, test } from "bun:test";
import Redis, { ReplyError } from "ioredis";
import { RedisInstance } from "../../../dev/faults/redis-instance.ts";
import { encodeBitfield, encodeCommand } from "../../../shared/stages/dedupe/resp-bitfield.ts";
import { RespPipe } from "../../../shared/stages/dedupe/resp-pipe.ts";
import { RespReader, type RespReply } from "../../../shared/stages/dedupe/resp-reader.ts";
import { describeWith, REDIS_URL, uniqueName } from "../../../dev/support/services.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

/** Feeds `stream` to a fresh reader in pieces cut at `cuts`; returns the replies. */
function read(stream: Uint8Array, cuts: number[]): RespReply[] {
  const out: RespReply[] = [];
  const r = new RespReader((reply) => out.push(reply));
  let at = 0;
  for (const c of [...cuts, stream.length]) {
    r.feed(stream.subarray(at, c));
    at = c;
  }
  return out;
}

/** Plain JS values: bits as arrays of numbers, errors as "ERR <message>". */
const norm = (replies: RespReply[]): unknown[] => replies.map((x) => (x instanceof Uint8Array ? [...x] : x instanceof Error ? `ERR ${x.message}` : Array.isArray(x) ? norm(x) : x));

describe("RespReader", () => {
  const stream = bytes(
    "*3\r\n:1\r\n:0\r\n:1\r\n:7\r\n+OK\r\n-WRONGTYPE Operation against a key\r\n*0\r\n:-2\r\n*2\r\n:0\r\n:0\r\n" +
      // The BF.* script's replies: nested arrays of bits, and an error inside one.
      "*3\r\n:1\r\n*3\r\n:1\r\n:0\r\n:1\r\n*3\r\n:0\r\n:0\r\n:1\r\n" +
      "*3\r\n:1\r\n*2\r\n-ERR non scaling filter is full\r\n:1\r\n*2\r\n:0\r\n:0\r\n" +
      "*2\r\n:1\r\n:12\r\n",
  );
  const expected = [
    [1, 0, 1],
    7,
    "OK",
    "ERR WRONGTYPE Operation against a key",
    [],
    -2,
    [0, 0],
    [1, [1, 0, 1], [0, 0, 1]],
    [1, ["ERR ERR non scaling filter is full", 1], [0, 0]],
    [1, 12],
  ];

  test("reads arrays of bits (nested too), other arrays, integers, status and error replies (inside arrays too) in order", () => {
    const replies = read(stream, []);
    expect(norm(replies)).toEqual(expected);
    expect(replies[3]).toBeInstanceOf(ReplyError);
    // Arrays of 0s and 1s are bytes; an array holding anything else is a JS array.
    expect((replies[7] as RespReply[])[1]).toBeInstanceOf(Uint8Array);
    expect(((replies[8] as RespReply[])[1] as RespReply[])[0]).toBeInstanceOf(ReplyError);
    expect(Array.isArray(replies[9])).toBe(true);
  });

  test("any split of the byte stream gives the same replies", () => {
    for (let c = 1; c < stream.length; c++) expect(norm(read(stream, [c]))).toEqual(expected);
    // Byte by byte.
    expect(norm(read(stream, Array.from({ length: stream.length - 1 }, (_, i) => i + 1)))).toEqual(expected);
  });

  test("what these commands never produce is a protocol error", () => {
    for (const bad of ["$3\r\nabc\r\n", "*-1\r\n", ":1\n", ":1x\r\n", "*1\r\n".repeat(9) + ":1\r\n"]) {
      expect(() => read(bytes(bad), [])).toThrow(/redis protocol error/);
    }
  });
});

describeWith("redis", "RespPipe", () => {
  const redis = new Redis(REDIS_URL);
  const keys: string[] = [];
  const servers: RedisInstance[] = [];
  const pipes: RespPipe[] = [];
  const timeouts = { connectTimeoutMs: 1_000, commandTimeoutMs: 2_000 };
  const pipeTo = (url: string, t = timeouts) => {
    const p = RespPipe.like(new Redis(url, { lazyConnect: true }), t);
    pipes.push(p);
    return p;
  };
  afterAll(async () => {
    for (const p of pipes) p.close();
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    for (const s of servers) await s.dispose();
  });

  test("BITFIELD SET returns the old bits, as ioredis reads them; PEXPIRE goes on the same connection", async () => {
    const key = uniqueName("tf:pipe");
    keys.push(key);
    const pipe = pipeTo(REDIS_URL);
    const probes = Uint32Array.from([0, 5, 900, 0, 5, 77]); // two keys, k = 2 (stride 3: shard, then offsets)
    const first = await pipe.sendForBits(encodeBitfield("SET", key, probes, 3, [0, 1], 0, 2));
    expect([...first]).toEqual([0, 0, 1, 0]); // offset 5 was set by the first key before the second asked
    const again = await pipe.sendForBits(encodeBitfield("SET", key, probes, 3, [0, 1], 0, 2));
    expect([...again]).toEqual([1, 1, 1, 1]);
    expect(await pipe.send(encodeCommand(["PEXPIRE", key, "60000"]))).toBe(1);
    expect(await redis.pttl(key)).toBeGreaterThan(0);
    const viaIoredis = (await redis.call("BITFIELD", key, "GET", "u1", "5", "GET", "u1", "900", "GET", "u1", "901")) as number[];
    const viaPipe = await pipe.sendForBits(encodeCommand(["BITFIELD", key, "GET", "u1", "5", "GET", "u1", "900", "GET", "u1", "901"]));
    expect([...viaPipe]).toEqual(viaIoredis);
  });

  test("many pipelined commands are answered in order", async () => {
    const key = uniqueName("tf:pipe");
    keys.push(key);
    const pipe = pipeTo(REDIS_URL);
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => pipe.send(encodeCommand(["BITFIELD", key, "SET", "u1", String(i % 50), "1"]))));
    // Offsets 0..49 are set once each by the first 50 commands; later commands see them set.
    expect(replies.map((r) => (r as Uint8Array)[0])).toEqual(Array.from({ length: 200 }, (_, i) => (i < 50 ? 0 : 1)));
  });

  test("an error reply answers only its own command (as ioredis's ReplyError); sendForBits throws it", async () => {
    const key = uniqueName("tf:pipe");
    keys.push(key);
    await redis.rpush(key, "a list is not a bitmap");
    const pipe = pipeTo(REDIS_URL);
    const [bad, good] = await Promise.all([pipe.send(encodeCommand(["BITFIELD", key, "SET", "u1", "0", "1"])), pipe.send(encodeCommand(["PEXPIRE", key, "60000"]))]);
    expect(bad).toBeInstanceOf(ReplyError);
    expect(String((bad as Error).message)).toMatch(/WRONGTYPE/);
    expect(good).toBe(1);
    expect(await pipe.sendForBits(encodeCommand(["BITFIELD", key, "GET", "u1", "0"])).catch((e) => e)).toBeInstanceOf(ReplyError);
  });

  test("authenticates and selects the database of the URL", async () => {
    const server = await RedisInstance.start({ password: "pipe-pw-1" });
    servers.push(server);
    const key = uniqueName("tf:pipe");
    const pipe = pipeTo(`${server.url}/3`);
    expect([...(await pipe.sendForBits(encodeCommand(["BITFIELD", key, "SET", "u1", "3", "1"])))]).toEqual([0]);
    const check = new Redis(`${server.url}/3`);
    expect(await check.getbit(key, 3)).toBe(1);
    check.disconnect();
    const wrong = pipeTo(server.url.replace("pipe-pw-1", "nope"));
    const err = await wrong.send(encodeCommand(["PING"])).catch((e) => e);
    expect(err).toBeInstanceOf(ReplyError);
    expect(String(err.message)).toMatch(/WRONGPASS|invalid/i);
  });

  test("fails fast while the server is down and reconnects by itself when it is back", async () => {
    const server = await RedisInstance.start();
    servers.push(server);
    const pipe = pipeTo(server.url);
    const key = uniqueName("tf:pipe");
    expect(await pipe.send(encodeCommand(["EXISTS", key]))).toBe(0);
    await server.down();
    const started = performance.now();
    const err = await pipe.send(encodeCommand(["EXISTS", key])).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ReplyError);
    expect(performance.now() - started).toBeLessThan(timeouts.commandTimeoutMs);
    await server.up();
    expect(await pipe.send(encodeCommand(["EXISTS", key]))).toBe(0);
  });

  test("a command without a reply fails after the command timeout and the connection is replaced", async () => {
    const server = await RedisInstance.start();
    servers.push(server);
    const pipe = pipeTo(server.url, { connectTimeoutMs: 1_000, commandTimeoutMs: 300 });
    const admin = new Redis(server.url);
    // CLIENT PAUSE makes the server hold every reply: the pipe's command gets none within its timeout.
    await admin.call("CLIENT", "PAUSE", "1500", "ALL");
    const started = performance.now();
    const err = await pipe.send(encodeCommand(["PING"])).catch((e) => e);
    expect(String(err?.message)).toMatch(/timed out/);
    expect(performance.now() - started).toBeLessThan(1_400);
    await Bun.sleep(1_600);
    expect(await pipe.send(encodeCommand(["PING"]))).toBe("PONG");
    admin.disconnect();
  });
});
