import { describe, expect, test } from "bun:test";
import { BacklogPacer, busiestPartitionShare, mockBacklogLimit } from "../../shared/loadgen/backlog-pacer.ts";
import type { GeneratorConfig } from "../../shared/topology/types.ts";

describe("BacklogPacer", () => {
  test("admits while produced - consumed stays within the limit, holds until the consumers catch up", async () => {
    let consumed = 0;
    const pacer = new BacklogPacer(100, () => consumed, 5);
    expect(await pacer.admit(0, 60)).toBe(true);
    expect(pacer.held).toBe(false);
    let admitted = false;
    const waiting = pacer.admit(60, 60).then((ok) => (admitted = ok));
    await Bun.sleep(30);
    expect(admitted).toBe(false);
    expect(pacer.held).toBe(true);
    consumed = 20;
    await waiting;
    expect(admitted).toBe(true);
    expect(pacer.heldMs).toBeGreaterThan(0);
  });

  test("a batch larger than the limit goes once the backlog is empty; an abort ends the wait with false", async () => {
    let consumed = 0;
    const pacer = new BacklogPacer(10, () => consumed, 5);
    expect(await pacer.admit(0, 50)).toBe(true);
    const abort = new AbortController();
    const waiting = pacer.admit(50, 50, abort.signal);
    abort.abort();
    expect(await waiting).toBe(false);
    consumed = 50;
    expect(await pacer.admit(50, 50)).toBe(true);
  });
});

describe("mockBacklogLimit", () => {
  test("the demo's backlog fits half of what its 8 mock partitions keep", async () => {
    // topologies/demo.yaml's generator.
    const gen: GeneratorConfig = { rate: 20_000, events: null, tenants: 8, duplicateRatio: 0.02, invalidRatio: 0.01, binaryRatio: 0.25, payloadBytes: 200 };
    // 8 tenant keys spread evenly over 8 partitions (CRC32 of t000..t007).
    expect(busiestPartitionShare(8, 8)).toBe(1 / 8);
    const limit = mockBacklogLimit(gen, 8);
    // ~450-byte events: 5 MiB holds ~11,600 of them per partition; half of that, times 8 partitions.
    expect(limit).toBeGreaterThan(35_000);
    expect(limit).toBeLessThan(60_000);
    // One tenant: every event lands on one partition, so the bound is one partition's half.
    expect(mockBacklogLimit({ ...gen, tenants: 1 }, 8)).toBe(Math.floor(limit / 8));
  });
});
