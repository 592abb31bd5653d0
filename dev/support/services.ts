/**
 * Real services for tests and benches (part of the dev/support kit: code that tests and dev tools share lives
 * under dev/, which the image never ships and test/ may import; dev/ never imports test/). Outside CI a missing service skips its tests with a printed reason; under CI
 * (CI=true) a missing service is a failing test, never a silent skip.
 */
import { describe, test } from "bun:test";
import { tcpOpen } from "./net.ts";

export const PG_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const IN_CI = process.env.CI === "true" || process.env.CI === "1";

const hostPort = (url: string, defPort: number): [string, number] => {
  const u = new URL(url);
  return [u.hostname || "127.0.0.1", Number(u.port || defPort)];
};

export const postgresUp = await tcpOpen(...hostPort(PG_URL, 5432));
export const redisUp = await tcpOpen(...hostPort(REDIS_URL, 6379));

/** `describe` that runs only when the named service is up (see module doc for CI behaviour). */
export function describeWith(service: "postgres" | "redis", name: string, fn: () => void): void {
  const up = service === "postgres" ? postgresUp : redisUp;
  if (up) return describe(name, fn);
  if (IN_CI) {
    describe(name, () => {
      test(`${service} is required under CI`, () => {
        throw new Error(`${service} is not reachable (${service === "postgres" ? PG_URL : REDIS_URL}); CI must start it`);
      });
    });
    return;
  }
  console.warn(`[skip] ${name}: ${service} is not reachable; start it to run these tests`);
  describe.skip(name, fn);
}

/**
 * Whether to skip a suite that needs local tools (openssl, redis-server, PostgreSQL server binaries): only
 * outside CI, with the reason printed. Under CI a missing tool is not skipped: the suite runs and fails loudly.
 */
export function skipWithout(available: boolean, suite: string, missing: string): boolean {
  if (available) return false;
  if (IN_CI) return false;
  console.warn(`[skip] ${suite}: ${missing}`);
  return true;
}

let seq = 0;
/** A name unique to this test run, safe as a topic, table, group or key prefix. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${(seq++).toString(36)}`.toLowerCase();
}
