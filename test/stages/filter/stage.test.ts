/**
 * The filter stage on real batches: records enriched by the real enrich stage (threads), then filtered by
 * expressions over core attributes and extensions; removed events end Filtered or dead-lettered (FILTERED).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { EventStatus } from "../../../shared/stages/batch.ts";
import type { EnrichStage } from "../../../shared/stages/enrich/index.ts";
import { createFilterStage } from "../../../shared/stages/filter/stage.ts";
import { parseTopology } from "../../../shared/topology/index.ts";
import { ConfigError } from "../../../shared/errors/index.ts";
import { batchOf, ce, startEnrich, structured, testTopology } from "../enrich/helpers.ts";

let enrich: EnrichStage;
beforeAll(async () => {
  enrich = (await startEnrich(testTopology({ dedupe: false, persist: false }))).stage;
});
afterAll(() => enrich.close());

/** A batch of the given events, enriched. */
async function enriched(events: Array<Record<string, unknown>>) {
  const batch = batchOf(events.map((e) => structured(e)));
  await enrich.process(batch);
  expect(batch.count(EventStatus.Live)).toBe(events.length);
  return batch;
}

const heartbeat = ce({ id: "hb", type: "com.example.heartbeat" });
const order = ce({ id: "o1", tenantid: "acme", priority: 3 });
const other = ce({ id: "o2", tenantid: "globex", subject: undefined });

describe("filter stage", () => {
  test("drop: matching events end Filtered (accounted, no rejection), the others stay Live; a second run changes nothing", async () => {
    const batch = await enriched([heartbeat, order, other]);
    const stage = createFilterStage({ kind: "filter", name: "no-heartbeats", mode: "drop", expression: 'type == "com.example.heartbeat"', onFiltered: "drop" });
    await stage.process(batch);
    expect([...batch.status]).toEqual([EventStatus.Filtered, EventStatus.Live, EventStatus.Live]);
    expect(batch.rejections.size).toBe(0);
    await stage.process(batch);
    expect([...batch.status]).toEqual([EventStatus.Filtered, EventStatus.Live, EventStatus.Live]);
  });

  test("keep with dead-letter: extensions (strings and numbers) and missing attributes; removed events carry FILTERED", async () => {
    const batch = await enriched([heartbeat, order, other]);
    const expression = 'tenantid in ["acme"] and priority == 3 and exists(subject)';
    const stage = createFilterStage({ kind: "filter", name: "acme", mode: "keep", expression, onFiltered: "dead-letter" });
    await stage.process(batch);
    expect([...batch.status]).toEqual([EventStatus.DeadLettered, EventStatus.Live, EventStatus.DeadLettered]);
    expect(batch.rejections.get(0)).toEqual({ stage: "acme", code: "FILTERED", reason: `not kept by ${JSON.stringify(expression)}` });
  });

  test("only Live events are looked at: an event another stage settled keeps its status", async () => {
    const batch = await enriched([heartbeat, order]);
    batch.markDuplicate(0);
    await createFilterStage({ kind: "filter", name: "f", mode: "drop", expression: "exists(id)", onFiltered: "drop" }).process(batch);
    expect([...batch.status]).toEqual([EventStatus.Duplicate, EventStatus.Filtered]);
  });

  test("without enriched events it fails the batch with a ConfigError (it must run after enrich)", async () => {
    const batch = batchOf([structured(order)]);
    const stage = createFilterStage({ kind: "filter", name: "f", mode: "drop", expression: "exists(id)", onFiltered: "drop" });
    await expect(stage.process(batch)).rejects.toBeInstanceOf(ConfigError);
  });
});

describe("filter in a topology file", () => {
  const file = (stages: string) =>
    `name: f\nsource:\n  mock:\n    topics: [events]\nstages:\n${stages}  - persist:\n      url: embedded\n`;
  const problems = (yaml: string) => {
    try {
      parseTopology(yaml, "/tmp/filter-topology.yaml", {});
    } catch (err) {
      return (err as ConfigError).message;
    }
    return "";
  };

  test("a syntax error is reported at the expression's file:line:column with the column inside the expression", () => {
    const msg = problems(file(`  - enrich: {}\n  - filter:\n      drop: 'type == "a" or'\n`));
    expect(msg).toContain('/tmp/filter-topology.yaml:8:13: stages[1].filter.drop: invalid filter expression: expected an attribute name before the end (at column 15 of the expression)');
  });

  test("keep and drop together, neither, or no enrich before it are refused", () => {
    expect(problems(file(`  - enrich: {}\n  - filter:\n      keep: 'exists(id)'\n      drop: 'exists(id)'\n`))).toContain("stages[1].filter.drop: give `keep` or `drop`, not both");
    expect(problems(file(`  - enrich: {}\n  - filter: {}\n`))).toContain("stages[1].filter: needs `keep: <expression>`");
    expect(problems(`name: f\nsource:\n  mock:\n    topics: [events]\nstages:\n  - filter:\n      drop: 'exists(id)'\n  - enrich: {}\n`)).toContain(
      "stages[0].filter: filter reads the attributes the enrich stage parses: put an `enrich` stage before it",
    );
  });

  test("a valid one resolves with its mode and default onFiltered; several filters may share a pipeline under their names", () => {
    const t = parseTopology(file(`  - enrich: {}\n  - filter:\n      drop: 'exists(id)'\n  - filter:\n      name: f2\n      keep: 'exists(id)'\n`), "/tmp/f.yaml", {});
    expect(t.stages.slice(1, 3)).toEqual([
      { kind: "filter", name: "filter", mode: "drop", expression: "exists(id)", onFiltered: "drop" },
      { kind: "filter", name: "f2", mode: "keep", expression: "exists(id)", onFiltered: "drop" },
    ]);
  });
});
