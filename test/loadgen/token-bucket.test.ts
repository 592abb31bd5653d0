import { describe, expect, test } from "bun:test";
import { TokenBucket } from "../../shared/loadgen/index.ts";

describe("token bucket (injected clock)", () => {
  test("refills continuously: 1000/s gives 10 tokens after 10 ms, not a whole second at once", () => {
    let t = 0;
    const b = new TokenBucket(1000, 100, () => t);
    expect(b.available()).toBe(0);
    t = 10;
    expect(b.available()).toBeCloseTo(10, 9);
    expect(b.tryTake(11)).toBe(false);
    expect(b.tryTake(10)).toBe(true);
    expect(b.available()).toBeCloseTo(0, 9);
    expect(b.waitMs(5)).toBeCloseTo(5, 9);
  });

  test("capacity bounds catch-up after a stall", () => {
    let t = 0;
    const b = new TokenBucket(1000, 50, () => t);
    t = 5000; // a 5 s stall
    expect(b.available()).toBe(50);
  });

  test("take() waits for tokens on the real clock and aborts promptly", async () => {
    const b = new TokenBucket(1000, 10);
    const t0 = performance.now();
    expect(await b.take(20)).toBe(true); // capacity grows to the largest take
    expect(performance.now() - t0).toBeGreaterThanOrEqual(15);
    const ac = new AbortController();
    const slow = new TokenBucket(1, 1);
    const p = slow.take(1, ac.signal);
    ac.abort();
    expect(await p).toBe(false);
  });

  test("rejects a non-positive or infinite rate", () => {
    expect(() => new TokenBucket(0, 1)).toThrow(RangeError);
    expect(() => new TokenBucket(Infinity, 1)).toThrow(RangeError);
  });
});
