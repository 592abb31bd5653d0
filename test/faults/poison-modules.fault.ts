/**
 * User modules and untrusted tenant ids through a full running topology (the real CLI, enrich with a user
 * module -> dedupe in Redis -> persist in PostgreSQL), with the Scenario harness, on the mock cluster and on
 * the real broker (KAFKA_BROKERS):
 * - an enrich module that calls process.exit for thousands of events, and spins for a few: each such event is
 *   dead-lettered with its code in one pass (no thread death per event, no bisection), the pipeline keeps
 *   committing and the audit of the surrounding events is exact;
 * - an enrich module that never finishes loading, or throws at import: the fleet stops with exit 2 and
 *   CONFIG_MODULE_LOAD naming the module within the start-up deadline, never hanging unready or crash-looping;
 * - per-tenant dedupe fed hundreds of tenant ids: Redis holds at most `tenantFilters` + 1 filters per window.
 */
import { describe, expect, test } from "bun:test";
import { fileURLToPath } from "node:url";
import Redis from "ioredis";
import { EnrichRejectCode as C } from "../../shared/stages/enrich/codes.ts";
import { describeIf } from "../../dev/support/services.ts";
import { REAL_BROKER } from "../../dev/support/kafka.ts";
import { deadLettersByCase, expectExact, faultSuite, POISON_CASE_HEADER, rejectionOf, runScenario, Scenario, type FaultServices, type PoisonRecord } from "./harness.ts";

const module = (name: string) => fileURLToPath(new URL(`./support/${name}`, import.meta.url));
/** poison.exit calls process.exit, poison.spin never returns (h4's module, shared by both poison suites). */
const POISON_MODULE = module("poison-module.ts");
const EXITS = 2000;
const SPINS = 3;

/** `n` events of `type` for the poison module, all named by `name` in the case header. */
function typed(tag: string, name: string, type: string, n: number): PoisonRecord[] {
  const time = new Date().toISOString();
  return Array.from({ length: n }, (_, k) => {
    const id = `${tag}-${name}-${k}`;
    return { key: id, value: JSON.stringify({ specversion: "1.0", id, source: "/poison/modules", type, time, data: { k } }), headers: [[POISON_CASE_HEADER, name]] };
  });
}

/** The per-event module cases on one Kafka. */
async function perEventModules(services: () => FaultServices, label: string): Promise<void> {
  const s = await Scenario.create(services(), { label, events: 3000, rate: 1000, partitions: 4, enrichModule: POISON_MODULE, sliceTimeoutMs: 2000 });
  await runScenario(s, async () => {
    s.startFleet();
    const producing = s.produce();
    const exits = typed(s.tag, "exit", "poison.exit", EXITS);
    for (let k = 0; k < exits.length; k += 250) {
      await s.produceExtra(exits.slice(k, k + 250));
      await Bun.sleep(50);
    }
    await s.produceExtra(typed(s.tag, "spin", "poison.spin", SPINS));
    const { manifest } = await producing;

    const r = await s.finish(manifest, { exactDuplicates: true, timeoutMs: 240_000 });
    expectExact(r);
    const letters = deadLettersByCase(r);
    const exitLetters = letters.get("exit") ?? [];
    expect(exitLetters.length).toBe(EXITS);
    expect(new Set(exitLetters.map((m) => rejectionOf(m).code))).toEqual(new Set([C.UserModuleThrew]));
    expect(rejectionOf(exitLetters[0]!).reason).toContain("process.exit(3)");
    expect((letters.get("spin") ?? []).map((m) => rejectionOf(m).code)).toEqual(Array(SPINS).fill(C.Timeout));
    expect(await s.rowsWithIdPrefix(`${s.tag}-exit-`)).toBe(0);
    // process.exit no longer kills a thread, so nothing was bisected as a thread crash.
    const log = s.fleets.map((f) => f.stderr).join("");
    expect(log).not.toContain(C.ThreadCrashed);
    expect(r.workerCrashes).toBe(0);
  });
}

/** A module that cannot load: the fleet exits 2 with CONFIG_MODULE_LOAD and the path, within the deadline, without restarts. */
async function unloadableModule(services: () => FaultServices, label: string, file: string, why: RegExp): Promise<void> {
  const s = await Scenario.create(services(), { label, events: 100, rate: 100, enrichModule: module(file) });
  await runScenario(s, async () => {
    const t0 = Date.now();
    const fleet = s.startFleet({ TOPOFLEET_MODULE_START_TIMEOUT_MS: "3000" });
    const timer = setTimeout(() => fleet.killAll(), 60_000);
    const code = await fleet.exited;
    clearTimeout(timer);
    expect(code).toBe(2);
    expect(Date.now() - t0).toBeLessThan(45_000);
    expect(fleet.stderr).toContain("CONFIG_MODULE_LOAD");
    expect(fleet.stderr).toContain(module(file));
    expect(fleet.stderr).toMatch(why);
    expect(fleet.stderr).not.toContain("restarting after backoff");
  });
}

/** Per-tenant dedupe with many tenant ids: bounded filters, exact audit. */
async function tenantCaps(services: () => FaultServices, label: string): Promise<void> {
  const tenantFilters = 8;
  const s = await Scenario.create(services(), { label, events: 4000, rate: 2000, tenants: 400, perTenant: { tenantFilters } });
  await runScenario(s, async () => {
    s.startFleet();
    const { manifest } = await s.produce();
    const r = await s.finish(manifest, { exactDuplicates: true });
    expectExact(r);
    const redis = new Redis(s.env.redis.url);
    try {
      const keys = await redis.keys(`${s.prefix}:*`);
      const scopes = new Set(keys.map((k) => k.slice(s.prefix.length + 2, k.indexOf("}"))));
      // 400 tenant ids, yet no more filters than tenantFilters (+ one for events without a tenant).
      expect(scopes.size).toBeGreaterThan(1);
      expect(scopes.size).toBeLessThanOrEqual(tenantFilters + 1);
      for (const scope of scopes) expect(scope).toMatch(/^(t\d+|-)$/);
    } finally {
      redis.disconnect();
    }
  });
}

function suite(kafka: "mock" | "real", where: string): void {
  describe(`user modules and tenant ids on ${where}`, () => {
    const services = faultSuite(kafka);
    test("process.exit for thousands of events and a few spins: each dead-lettered with its code in one pass; the audit is exact", () =>
      perEventModules(services, `modules-${kafka}`), 400_000);
    test("a module whose import never finishes: exit 2 naming it within the start-up deadline", () =>
      unloadableModule(services, `never-${kafka}`, "never-loads-module.ts", /did not finish loading within 3000 ms/), 120_000);
    test("a module that throws at import: exit 2 naming it, no crash loop", () =>
      unloadableModule(services, `throws-${kafka}`, "throws-at-import-module.ts", /poison module: cannot load/), 120_000);
    test("per-tenant dedupe fed 400 tenant ids keeps at most tenantFilters + 1 filters; the audit is exact", () => tenantCaps(services, `tenants-${kafka}`), 300_000);
  });
}

suite("mock", "the mock cluster");
describeIf(REAL_BROKER, "on the real broker", () => suite("real", "the real broker"));
