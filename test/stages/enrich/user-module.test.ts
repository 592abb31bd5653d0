/**
 * The user enrich module contract (shared/stages/enrich/module-api.ts): sync and async batch functions,
 * per-event functions, per-event attribution of exceptions, rejections, and load failures.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { rmSync, writeFileSync } from "node:fs";
import { ConfigError } from "../../../shared/errors/index.ts";
import { EventStatus } from "../../../shared/stages/batch.ts";
import type { EnrichStage } from "../../../shared/stages/enrich/index.ts";
import { batchOf, ce, row, startEnrich, structured, testTopology } from "./helpers.ts";
import { tempDir } from "../../../dev/support/temp-dir.ts";

const fixture = (name: string) => join(import.meta.dir, "fixtures", name);
const started: EnrichStage[] = [];
const dir = tempDir("enrich-module").dir;
afterAll(async () => {
  await Promise.all(started.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function stageWithModule(module: string, extra: Parameters<typeof testTopology>[0] = {}) {
  const { stage } = await startEnrich(testTopology({ ...extra, enrich: { module, ...extra.enrich } }));
  started.push(stage);
  return stage;
}

const ext = (b: { events: { extensions: Array<string | null> } | null }, i: number) => JSON.parse(b.events!.extensions[i]!);

describe("sync batch module", () => {
  test("enriches every event; ctx carries Kafka coordinates, thread and lookups", async () => {
    const path = join(dir, "plans.json");
    writeFileSync(path, JSON.stringify({ acme: "pro" }));
    const stage = await stageWithModule(fixture("batch-module.ts"), { enrich: { lookups: [{ kind: "file", name: "plans", path, key: "nothing", into: "unused" }] } });
    const b = batchOf([structured(ce({ id: "a", tenantid: "acme" }), { offset: 500 }), structured(ce({ id: "b" }), { offset: 501 })]);
    await stage.process(b);
    expect(b.count(EventStatus.Live)).toBe(2);
    expect(ext(b, 0)).toMatchObject({ enriched: "yes", seenoffset: 500, plan: "pro" });
    expect(ext(b, 1)).toMatchObject({ enriched: "yes", seenoffset: 501 });
    expect(ext(b, 1).plan).toBeUndefined();
    expect(typeof ext(b, 0).seenthread).toBe("number");
    expect(JSON.parse(row(b, 0).extensions!).enriched).toBe("yes");
  });

  test("one event throws -> only that event is dead-lettered with USER_MODULE_THREW, the rest pass", async () => {
    const stage = await stageWithModule(fixture("batch-module.ts"));
    const b = batchOf([structured(ce({ id: "ok-1" })), structured(ce({ id: "boom", type: "test.throw" })), structured(ce({ id: "ok-2" }))]);
    await stage.process(b);
    expect([...b.status]).toEqual([EventStatus.Live, EventStatus.DeadLettered, EventStatus.Live]);
    expect(b.rejections.get(1)).toEqual({ stage: "enrich", code: "USER_MODULE_THREW", reason: "enrich module threw: cannot enrich boom" });
    expect(ext(b, 0).enriched).toBe("yes");
    expect(ext(b, 2).enriched).toBe("yes");
  });

  test("null, a returned Error, a broken event and a non-event are per-event rejections", async () => {
    const stage = await stageWithModule(fixture("batch-module.ts"));
    const b = batchOf([
      structured(ce({ id: "r1", type: "test.reject" })),
      structured(ce({ id: "r2", type: "test.reject-reason" })),
      structured(ce({ id: "r3", type: "test.break-id" })),
      structured(ce({ id: "r4", type: "test.not-an-event" })),
      structured(ce({ id: "fine" })),
    ]);
    await stage.process(b);
    expect(b.rejections.get(0)).toMatchObject({ code: "USER_MODULE_REJECTED", reason: "rejected by the enrich module" });
    expect(b.rejections.get(1)).toMatchObject({ code: "USER_MODULE_REJECTED", reason: "amount over the limit" });
    expect(b.rejections.get(2)).toMatchObject({ code: "CE_MISSING_ATTRIBUTE", reason: "after the enrich module: required attribute id is missing" });
    expect(b.rejections.get(3)?.code).toBe("USER_MODULE_THREW");
    expect(b.rejections.get(3)?.reason).toContain("returned number");
    expect(b.status[4]).toBe(EventStatus.Live);
  });

  test("the per-event retry starts from fresh copies, so a batch call's partial mutations never leak", async () => {
    const stage = await stageWithModule(fixture("mutating-module.ts"));
    const b = batchOf([structured(ce({ id: "m1", data: { amount: 2 } })), structured(ce({ id: "m2", type: "test.throw", data: { amount: 3 } }))]);
    await stage.process(b);
    expect(b.status[0]).toBe(EventStatus.Live);
    expect(JSON.parse(b.events!.data[0]!).amount).toBe(200);
    expect(b.rejections.get(1)).toMatchObject({ code: "USER_MODULE_THREW", reason: "enrich module threw: one event is poison" });
  });
});

describe("async modules", () => {
  test("async batch function: results apply, one throwing event is isolated", async () => {
    const stage = await stageWithModule(fixture("async-module.ts"));
    const b = batchOf([structured(ce({ id: "x", data: { amount: 5 } })), structured(ce({ id: "y", type: "test.throw" })), structured(ce({ id: "z", data: { amount: 1 } }))]);
    await stage.process(b);
    expect(JSON.parse(b.events!.data[0]!).amount).toBe(10);
    expect(JSON.parse(b.events!.data[2]!).amount).toBe(2);
    expect(ext(b, 0).mode).toBe("async");
    expect(b.rejections.get(1)).toMatchObject({ code: "USER_MODULE_THREW", reason: "enrich module threw: async failure" });
  });

  test("per-event enrichEvent: a throw is attributed to its event", async () => {
    const stage = await stageWithModule(fixture("per-event-module.ts"));
    const b = batchOf([structured(ce({ id: "p1" })), structured(ce({ id: "p2", type: "test.throw" })), structured(ce({ id: "p3" }))]);
    await stage.process(b);
    expect([...b.status]).toEqual([EventStatus.Live, EventStatus.DeadLettered, EventStatus.Live]);
    expect(b.rejections.get(1)).toMatchObject({ code: "USER_MODULE_THREW", reason: "enrich module threw: bad event p2" });
    expect(ext(b, 2).mode).toBe("perevent");
  });

  test("events the stage already rejected never reach the module", async () => {
    const stage = await stageWithModule(fixture("per-event-module.ts"));
    const b = batchOf([structured(ce({ id: "bad", type: "test.throw", time: "nope" }))]);
    await stage.process(b);
    expect(b.rejections.get(0)?.code).toBe("CE_BAD_TIME");
  });
});

describe("loading", () => {
  test("a module without a default function or enrichEvent fails start with CONFIG_MODULE_LOAD", async () => {
    const err = await startEnrich(testTopology({ enrich: { module: fixture("no-export-module.ts") } })).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.code).toBe("CONFIG_MODULE_LOAD");
    expect(err.message).toContain("no-export-module.ts");
  });

  test("a module that does not exist fails start with CONFIG_MODULE_LOAD naming the path", async () => {
    const err = await startEnrich(testTopology({ enrich: { module: join(dir, "missing-module.ts") } })).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.code).toBe("CONFIG_MODULE_LOAD");
    expect(err.message).toContain("missing-module.ts");
  });
});
