/**
 * Poison events through a full running topology (the real CLI, enrich with a user module -> dedupe -> persist,
 * PostgreSQL, Redis), on the mock cluster and on the real broker (KAFKA_BROKERS): every case of issue 13 for
 * enrich, persist and the dead-letter path, and more (largest, deepest, oldest, strangest), interleaved with
 * generated load. For each case: the pipeline keeps committing (every record of the topic ends committed,
 * no worker crash), the case lands exactly once or is dead-lettered with its code, and the audit of the
 * surrounding generated events is exact.
 */
import { describe, expect, test } from "bun:test";
import { fileURLToPath } from "node:url";
import { describeIf } from "../../dev/support/services.ts";
import { REAL_BROKER } from "../../dev/support/kafka.ts";
import {
  deadLettersByCase,
  expectExact,
  faultSuite,
  manyDatesCase,
  poisonCases,
  poisonProblems,
  rejectionOf,
  runScenario,
  Scenario,
  type FaultServices,
} from "./harness.ts";

const POISON_MODULE = fileURLToPath(new URL("./support/poison-module.ts", import.meta.url));
const MAX_EVENT_BYTES = 1024 * 1024;
const RETENTION_DAYS = 30;
/** partitionsAheadDays (topology default 3) + the day of clock skew enrich allows. */
const AHEAD_DAYS = 4;
const DISTINCT_DATES = 3000;

/** The whole poison run on one Kafka (mock or real). */
async function poisonRun(services: () => FaultServices, label: string): Promise<void> {
  const s = await Scenario.create(services(), {
    label,
    events: 3000,
    rate: 1000,
    partitions: 6,
    maxEventBytes: MAX_EVENT_BYTES,
    enrichModule: POISON_MODULE,
    sliceTimeoutMs: 2000,
    retentionDays: RETENTION_DAYS,
  });
  await runScenario(s, async () => {
    const cases = poisonCases(s.tag, { maxEventBytes: MAX_EVENT_BYTES, partitions: s.partitions, realBroker: s.env.real });
    const dates = manyDatesCase(s.tag, DISTINCT_DATES, RETENTION_DAYS, AHEAD_DAYS);
    s.startFleet();
    const producing = s.produce();
    for (const c of cases) {
      await s.produceExtra(c.records);
      await Bun.sleep(30);
    }
    for (let k = 0; k < dates.records.length; k += 500) await s.produceExtra(dates.records.slice(k, k + 500));
    const { manifest } = await producing;

    // Every record committed, no worker crash, the generated events exact around the poison.
    const r = await s.finish(manifest, { exactDuplicates: true, timeoutMs: 240_000 });
    expectExact(r);
    expect(await poisonProblems(s, r, cases)).toEqual([]);

    // Untrusted dates: only the partition window gets partitions; the rest are dead-lettered.
    const dateLetters = new Map((deadLettersByCase(r).get("many-dates") ?? []).map((m) => [new TextDecoder().decode(m.key!), rejectionOf(m).code]));
    const wrong: string[] = [];
    for (let k = 0; k < dates.records.length; k++) {
      const id = dates.records[k].key;
      const want = dates.expected[k];
      const rows = await s.rowsWithId(id);
      const code = dateLetters.get(id) ?? null;
      const ok = want === null ? rows + (code ? 1 : 0) === 1 : want === "lands" ? rows === 1 && code === null : rows === 0 && code === want;
      if (!ok) wrong.push(`${id}: ${rows} rows, dead letter ${code}, expected ${want ?? "either"}`);
    }
    expect(wrong.slice(0, 10)).toEqual([]);
    expect(await s.partitionCount()).toBeLessThanOrEqual(RETENTION_DAYS + AHEAD_DAYS + 2);
  });
}

describe("poison events on the mock cluster", () => {
  const services = faultSuite("mock");
  test("every poison case lands once or is dead-lettered with its code; the pipeline keeps committing; the audit is exact", () => poisonRun(services, "poison-mock"), 400_000);
});

describeIf(REAL_BROKER, "poison events on the real broker", () => {
  const services = faultSuite("real");
  test("every poison case lands once or is dead-lettered with its code; the pipeline keeps committing; the audit is exact", () => poisonRun(services, "poison-real"), 400_000);
});
