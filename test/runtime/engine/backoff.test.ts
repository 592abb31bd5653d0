/**
 * The one backoff helper (shared/timing/backoff.ts) in each jitter mode, with the engine's default retry
 * policy (budgets.ts), and the promise timing helpers it sleeps with (shared/timing/sleep.ts).
 */
import { describe, expect, test } from "bun:test";
import { Backoff, backoffDelay, type BackoffPolicy } from "../../../shared/timing/backoff.ts";
import { sleep, within } from "../../../shared/timing/sleep.ts";
import { RETRY_BACKOFF } from "../../../shared/runtime/engine/budgets.ts";

describe("backoffDelay", () => {
  test("the engine's retries double from 100 ms and cap at 10 s, within the equal-jitter band [d/2, d]", () => {
    const lo = (n: number) => backoffDelay(n, RETRY_BACKOFF, () => 0);
    const hi = (n: number) => backoffDelay(n, RETRY_BACKOFF, () => 1);
    expect([0, 1, 2, 3].map(hi)).toEqual([100, 200, 400, 800]);
    expect([0, 1, 2, 3].map(lo)).toEqual([50, 100, 200, 400]);
    expect(hi(7)).toBe(10_000);
    expect(lo(50)).toBe(5_000);
    expect(hi(10_000)).toBe(10_000); // no overflow after very many attempts
  });

  test("random jitter stays inside the band", () => {
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(3, RETRY_BACKOFF);
      expect(d).toBeGreaterThanOrEqual(400);
      expect(d).toBeLessThanOrEqual(800);
    }
  });

  test("none is the exponential ceiling; full spans [0, d]; the multiplier sets the growth", () => {
    const p: BackoffPolicy = { initialMs: 50, maxMs: 1_000, multiplier: 3, jitter: "none" };
    expect([0, 1, 2, 3, 4].map((n) => backoffDelay(n, p))).toEqual([50, 150, 450, 1_000, 1_000]);
    const full = { ...p, jitter: "full" as const };
    expect(backoffDelay(2, full, () => 0)).toBe(0);
    expect(backoffDelay(2, full, () => 1)).toBe(450);
  });

  test("decorrelated draws from [initial, previous * multiplier], capped", () => {
    const p: BackoffPolicy = { initialMs: 100, maxMs: 1_000, multiplier: 3, jitter: "decorrelated" };
    expect(backoffDelay(0, p, () => 1)).toBe(300);
    expect(backoffDelay(1, p, () => 1, 300)).toBe(900);
    expect(backoffDelay(2, p, () => 1, 900)).toBe(1_000);
    expect(backoffDelay(2, p, () => 0, 900)).toBe(100);
  });
});

describe("Backoff", () => {
  test("counts its attempts, feeds decorrelated jitter the last delay, and starts over on reset", () => {
    const b = new Backoff({ initialMs: 100, maxMs: 10_000, multiplier: 2, jitter: "decorrelated" }, () => 1);
    expect([b.next(), b.next(), b.next()]).toEqual([200, 400, 800]);
    expect(b.attempts).toBe(3);
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(200);
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
