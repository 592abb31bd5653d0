import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ConfigError } from "../../../shared/errors/index.ts";
import { Batch, EventStatus, type EnrichedEvents } from "../../../shared/stages/batch.ts";
import { loadCustomStage } from "../../../shared/stages/custom/load.ts";
import { createStages } from "../../../shared/stages/index.ts";
import { packRecords } from "../../../shared/stages/records.ts";
import type { CustomStageConfig, ResolvedTopology } from "../../../shared/topology/types.ts";

const fixture = (name: string) => join(import.meta.dir, "fixtures", name);
const custom = (name: string, module: string, options: Record<string, unknown> = {}): CustomStageConfig => ({ kind: "custom", name, module, options });
const batchOf = (values: string[]) =>
  new Batch(packRecords(values.map((value, i) => ({ topic: "t", partition: 0, offset: i, value }))));

async function loadError(cfg: CustomStageConfig): Promise<ConfigError> {
  try {
    await loadCustomStage(cfg);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected loadCustomStage to throw");
}

describe("loadCustomStage", () => {
  test("a factory module: called with the options, runs under the topology's name", async () => {
    const stage = await loadCustomStage(custom("my-rejecter", fixture("rejecting-stage.ts"), { id: "load-1", every: 2 }));
    expect(stage.name).toBe("my-rejecter");
    expect(stage.kind).toBe("custom");
    // The fixture has no start/health/close: the loader supplies no-ops.
    await stage.start({} as never);
    expect(await stage.health()).toEqual({ ok: true });
    const b = batchOf(["a", "b", "c", "d"]);
    await stage.process(b);
    expect([...b.status]).toEqual([EventStatus.DeadLettered, EventStatus.Live, EventStatus.DeadLettered, EventStatus.Live]);
    await stage.close();
  });

  test("a module exporting a Stage object", async () => {
    const stage = await loadCustomStage(custom("obj", fixture("stage-object.ts")));
    const b = batchOf(["x"]);
    await stage.process(b);
    expect(b.status[0]).toBe(EventStatus.Duplicate);
    expect(await stage.health()).toEqual({ ok: false, detail: "fixture says no" });
  });

  test("a missing module is CONFIG_MODULE_LOAD naming the path", async () => {
    const path = fixture("does-not-exist.ts");
    const err = await loadError(custom("gone", path));
    expect(err.code).toBe("CONFIG_MODULE_LOAD");
    expect(err.retriable).toBe(false);
    expect(err.message).toContain(path);
  });

  test("a wrong default export is CONFIG_MODULE_LOAD naming the path and what was found", async () => {
    const bad = await loadError(custom("bad", fixture("bad-export.ts")));
    expect(bad.code).toBe("CONFIG_MODULE_LOAD");
    expect(bad.message).toContain(fixture("bad-export.ts"));
    expect(bad.message).toContain("number");
    const none = await loadError(custom("none", fixture("no-default.ts")));
    expect(none.code).toBe("CONFIG_MODULE_LOAD");
    expect(none.message).toContain("no default export");
  });

  test("a factory rejecting its options keeps its own typed error", async () => {
    const err = await loadError(custom("example", join(import.meta.dir, "../../../shared/stages/custom/example.ts"), { denyTypes: "nope" }));
    expect(err.code).toBe("CONFIG_INVALID");
    expect(err.message).toContain("denyTypes");
  });
});

describe("example custom stage", () => {
  test("dead-letters denied types and oversized values, leaves the rest Live", async () => {
    const stage = await loadCustomStage(
      custom("deny", join(import.meta.dir, "../../../shared/stages/custom/example.ts"), { denyTypes: ["debug"], maxValueBytes: 5 }),
    );
    const b = batchOf(["ok", "ok", "too large"]);
    b.events = { type: ["debug", "order", "order"] } as unknown as EnrichedEvents;
    await stage.process(b);
    expect([...b.status]).toEqual([EventStatus.DeadLettered, EventStatus.Live, EventStatus.DeadLettered]);
    expect(b.rejections.get(0)?.code).toBe("EXAMPLE_DENIED_TYPE");
    expect(b.rejections.get(2)?.code).toBe("EXAMPLE_TOO_LARGE");
  });
});

describe("createStages", () => {
  test("builds custom stages in pipeline order", async () => {
    const topology = {
      stages: [custom("first", fixture("rejecting-stage.ts"), { id: "cs-1" }), custom("second", fixture("recording-sink.ts"), { id: "cs-2" })],
    } as unknown as ResolvedTopology;
    const stages = await createStages(topology);
    expect(stages.map((s) => s.name)).toEqual(["first", "second"]);
  });
});
