/**
 * Redis credentials and TLS travel in the URL only (`redis://:password@host`, `rediss://`): the dedupe stage
 * built from a topology with `redis.url: ${REDIS_URL}` must authenticate with the password, speak TLS when
 * the scheme says so (verifying the server certificate), and never print the password, whether it works or not.
 * Each case runs test/security/fixtures/dedupe-probe.ts in a subprocess against a redis-server this file
 * starts on a free port (with `requirepass`, and a TLS-only one).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { RedisInstance } from "../../dev/faults/redis-instance.ts";
import { makeTestCertificates, opensslAvailable, type TestCertificates } from "../../dev/faults/tls.ts";
import { leaks, REPO } from "./support.ts";
import { skipWithout } from "../../dev/support/services.ts";
import { tempDir } from "../../dev/support/temp-dir.ts";

const PASSWORD = "redis-pw-Xk4-planted";
const WRONG = "redis-wrong-pw-Zq8";
const PROBE = join(import.meta.dir, "fixtures/dedupe-probe.ts");

interface ProbeResult {
  started: boolean;
  health?: { ok: boolean; detail?: string };
  code?: string | null;
  retriable?: boolean | null;
  message?: string;
}

/** Runs the probe with REDIS_URL=url; returns its JSON result and everything it printed. */
async function probe(url: string, extraEnv: Record<string, string> = {}): Promise<{ result: ProbeResult; output: string }> {
  const env: Record<string, string | undefined> = { ...process.env, REDIS_URL: url, ...extraEnv };
  if (!("NODE_EXTRA_CA_CERTS" in extraEnv)) delete env.NODE_EXTRA_CA_CERTS;
  const proc = Bun.spawn([process.execPath, PROBE], { cwd: REPO, env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  const line = stdout.trim().split("\n").at(-1) ?? "";
  let result: ProbeResult;
  try {
    result = JSON.parse(line);
  } catch {
    throw new Error(`the probe printed no result:\n${stdout}\n${stderr}`);
  }
  return { result, output: stdout + stderr };
}

const redisAvailable = Bun.which("redis-server") !== null;

describe.skipIf(skipWithout(redisAvailable, "Redis password in the URL", "redis-server is not installed"))("Redis password in the URL", () => {
  let redis: RedisInstance;
  beforeAll(async () => {
    redis = await RedisInstance.start({ password: PASSWORD });
  });
  afterAll(async () => {
    await redis?.dispose();
  });

  test("redis://:password@host authenticates and the password is never printed", async () => {
    expect(redis.url).toContain(`:${PASSWORD}@`);
    const { result, output } = await probe(redis.url);
    expect(result).toMatchObject({ started: true, health: { ok: true } });
    expect(leaks(output, { password: PASSWORD })).toEqual([]);
  }, 60_000);

  test("a wrong or missing password fails start with a fatal DEDUPE_REDIS_AUTH, printing neither password", async () => {
    for (const url of [redis.url.replace(PASSWORD, WRONG), `redis://127.0.0.1:${redis.port}`]) {
      const { result, output } = await probe(url);
      // A misconfiguration, not an outage: retrying forever would hide it.
      expect(result).toMatchObject({ started: false, code: "DEDUPE_REDIS_AUTH", retriable: false });
      expect(String(result.message)).toMatch(/NOAUTH|WRONGPASS|password/i);
      expect(leaks(output, { password: PASSWORD, wrong: WRONG })).toEqual([]);
    }
  }, 60_000);

  test("a password for a server that has none is DEDUPE_REDIS_AUTH at start, not a command error at the first batch", async () => {
    const open = await RedisInstance.start({});
    try {
      const { result, output } = await probe(open.url.replace("redis://", `redis://:${WRONG}@`));
      expect(result).toMatchObject({ started: false, code: "DEDUPE_REDIS_AUTH", retriable: false });
      expect(String(result.message)).toMatch(/AUTH failed/);
      expect(leaks(output, { wrong: WRONG })).toEqual([]);
    } finally {
      await open.dispose();
    }
  }, 60_000);
});

const tlsSkip = skipWithout(redisAvailable && opensslAvailable, "Redis TLS via rediss://", "needs redis-server and the openssl CLI (to make a test CA)");

describe.skipIf(tlsSkip)("Redis TLS via rediss://", () => {
  let dir: string;
  let certs: TestCertificates;
  let redis: RedisInstance;
  beforeAll(async () => {
    dir = tempDir("sec-redis-tls").dir;
    certs = await makeTestCertificates(dir);
    redis = await RedisInstance.start({ password: PASSWORD, tls: certs });
  });
  afterAll(async () => {
    await redis?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("rediss:// speaks TLS and authenticates when the server's CA is trusted", async () => {
    expect(redis.url.startsWith("rediss://")).toBe(true);
    const { result, output } = await probe(redis.url, { NODE_EXTRA_CA_CERTS: certs.ca });
    expect(result).toMatchObject({ started: true, health: { ok: true } });
    expect(leaks(output, { password: PASSWORD })).toEqual([]);
  }, 60_000);

  test("rediss:// verifies the certificate: an untrusted CA fails fatally, without printing the password", async () => {
    const { result, output } = await probe(redis.url);
    expect(result).toMatchObject({ started: false, code: "DEDUPE_REDIS_AUTH", retriable: false });
    expect(leaks(output, { password: PASSWORD })).toEqual([]);
  }, 60_000);

  test("plain redis:// against the TLS-only port fails: the scheme is what turns TLS on", async () => {
    const { result, output } = await probe(redis.url.replace("rediss://", "redis://"), { NODE_EXTRA_CA_CERTS: certs.ca });
    expect(result.started && result.health?.ok).toBeFalsy();
    expect(leaks(output, { password: PASSWORD })).toEqual([]);
  }, 60_000);
});
