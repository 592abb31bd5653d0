/**
 * Real services for tests and benches (part of the dev/support kit: code that tests and dev tools share lives
 * under dev/, which the image never ships and test/ may import; dev/ never imports test/). Outside CI a
 * missing service or tool skips its tests with a printed reason; under CI (CI=true) it is a failing test,
 * never a silent skip.
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

/** Something a suite needs (a service, a module-enabled server, a real broker): whether it is there, and what is missing when not. */
export interface Requirement {
  available: boolean;
  /** Printed when skipping and thrown under CI, e.g. "REDIS_BLOOM_URL is not set". */
  missing: string;
}

/** `describe` that runs when `need` is met; otherwise a failing test under CI, a printed skip outside it. */
export function describeIf(need: Requirement, name: string, fn: () => void): void {
  if (need.available) return describe(name, fn);
  if (IN_CI) {
    describe(name, () => {
      test("its requirement is met under CI", () => {
        throw new Error(`${need.missing}; CI must provide it`);
      });
    });
    return;
  }
  console.warn(`[skip] ${name}: ${need.missing}`);
  describe.skip(name, fn);
}

/** `describe` that runs only when the named service is up (see describeIf for CI behaviour). */
export function describeWith(service: "postgres" | "redis", name: string, fn: () => void): void {
  const up = service === "postgres" ? postgresUp : redisUp;
  describeIf({ available: up, missing: `${service} is not reachable (${service === "postgres" ? PG_URL : REDIS_URL})` }, name, fn);
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
