import { describe, expect, test } from "bun:test";
import { backoffDelay, DEFAULT_BACKOFF } from "../../../shared/runtime/engine/backoff.ts";
import { sleep, within } from "../../../shared/runtime/engine/timing.ts";

describe("backoffDelay", () => {
  test("doubles from 100 ms and caps at 10 s, within the jitter band [d/2, d]", () => {
    const lo = (n: number) => backoffDelay(n, DEFAULT_BACKOFF, () => 0);
    const hi = (n: number) => backoffDelay(n, DEFAULT_BACKOFF, () => 1);
    expect([0, 1, 2, 3].map(hi)).toEqual([100, 200, 400, 800]);
    expect([0, 1, 2, 3].map(lo)).toEqual([50, 100, 200, 400]);
    expect(hi(7)).toBe(10_000);
    expect(lo(50)).toBe(5_000);
    expect(hi(10_000)).toBe(10_000); // no overflow after very many attempts
  });

  test("random jitter stays inside the band", () => {
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(3);
      expect(d).toBeGreaterThanOrEqual(400);
      expect(d).toBeLessThanOrEqual(800);
    }
  });
});

describe("sleep", () => {
  test("an abort ends the sleep early", async () => {
    const ac = new AbortController();
    const t0 = performance.now();
    const p = sleep(5_000, ac.signal);
    setTimeout(() => ac.abort(), 10);
    await p;
    expect(performance.now() - t0).toBeLessThan(2_000);
  });
});

describe("within", () => {
  test("the result when it comes in time, the fallback after the deadline (a late rejection is ignored)", async () => {
    expect(await within(Promise.resolve(1), 1_000, 0)).toBe(1);
    const late = new Promise<number>((_, reject) => setTimeout(() => reject(new Error("late")), 50));
    expect(await within(late, 10, -1)).toBe(-1);
    await Bun.sleep(80); // the late rejection must not surface as unhandled
  });
});
