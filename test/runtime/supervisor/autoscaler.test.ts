import { describe, expect, test } from "bun:test";
import {
  decideScale,
  desiredReplicas,
  initialAutoscaleState,
  replicaBounds,
  type AutoscaleState,
  type AutoscaleTiming,
} from "../../../shared/runtime/supervisor/autoscaler.ts";

const replicas = { min: 1, max: 8, lagPerReplica: 1000 };
const timing: AutoscaleTiming = { upObservations: 3, downStableMs: 10_000, upCooldownMs: 30_000, downCooldownMs: 120_000, downFactor: 0.8 };

/** Feeds observations (lag at time t) through the policy and returns every decision. */
function run(start: AutoscaleState, obs: Array<[lag: number, now: number]>, partitions: number | null = null) {
  let state = start;
  return obs.map(([lag, now]) => {
    const d = decideScale(state, { lag, now }, replicas, partitions, timing);
    state = d.state;
    return d;
  });
}

describe("replicaBounds", () => {
  test("keeps min and max when partitions are plenty or unknown", () => {
    expect(replicaBounds(replicas, 32)).toEqual({ min: 1, max: 8, capped: false });
    expect(replicaBounds(replicas, null)).toEqual({ min: 1, max: 8, capped: false });
  });
  test("caps max at the partition count and min at the capped max", () => {
    expect(replicaBounds(replicas, 4)).toEqual({ min: 1, max: 4, capped: true });
    expect(replicaBounds({ min: 6, max: 8 }, 4)).toEqual({ min: 4, max: 4, capped: true });
  });
});

describe("desiredReplicas", () => {
  test("one replica per lagPerReplica, rounded up", () => {
    expect(desiredReplicas(0, replicas)).toBe(1);
    expect(desiredReplicas(1000, replicas)).toBe(1);
    expect(desiredReplicas(1001, replicas)).toBe(2);
    expect(desiredReplicas(4500, replicas)).toBe(5);
  });
  test("clamped to min and max", () => {
    expect(desiredReplicas(0, { min: 2, max: 8, lagPerReplica: 1000 })).toBe(2);
    expect(desiredReplicas(1_000_000, replicas)).toBe(8);
  });
  test("never above the partition count", () => {
    expect(desiredReplicas(1_000_000, replicas, 3)).toBe(3);
  });
  test("fixed replicas ignore lag", () => {
    expect(desiredReplicas(1_000_000, { min: 3, max: 3, lagPerReplica: 0 })).toBe(3);
  });
});

describe("decideScale", () => {
  test("scale-up waits for N consecutive observations (hysteresis)", () => {
    const ds = run(initialAutoscaleState(1), [
      [5000, 0],
      [5000, 1000],
      [5000, 2000],
    ]);
    expect(ds.map((d) => d.target)).toEqual([1, 1, 5]);
    expect(ds.map((d) => d.reason)).toEqual(["hysteresis", "hysteresis", "scale-up"]);
  });

  test("a dip below desired resets the up streak", () => {
    const ds = run(initialAutoscaleState(1), [
      [5000, 0],
      [5000, 1000],
      [500, 2000],
      [5000, 3000],
      [5000, 4000],
    ]);
    expect(ds.map((d) => d.target)).toEqual([1, 1, 1, 1, 1]);
  });

  test("cooldown blocks a second scale-up until it expires", () => {
    const after = { current: 2, upStreak: 0, belowSince: null, lastChangeAt: 0 };
    const ds = run(after, [
      [8000, 1000],
      [8000, 2000],
      [8000, 3000], // streak reached, but only 3 s after the last change
      [8000, 29_999],
      [8000, 30_000],
    ]);
    expect(ds.map((d) => d.reason)).toEqual(["hysteresis", "hysteresis", "cooldown", "cooldown", "scale-up"]);
    expect(ds.at(-1)!.target).toBe(8);
  });

  test("scale-down needs lag below (current-1)*lagPerReplica*0.8 for downStableMs, one step at a time", () => {
    const start = { current: 4, upStreak: 0, belowSince: null, lastChangeAt: -1_000_000 };
    // threshold = 3 * 1000 * 0.8 = 2400: 2500 holds, 2000 counts as low.
    const ds = run(start, [
      [2500, 0],
      [2000, 1000],
      [2000, 6000],
      [2000, 11_000],
    ]);
    expect(ds.map((d) => d.reason)).toEqual(["hold", "hysteresis", "hysteresis", "scale-down"]);
    expect(ds.at(-1)!.target).toBe(3);
  });

  test("lag rising above the threshold restarts the scale-down clock", () => {
    const start = { current: 4, upStreak: 0, belowSince: null, lastChangeAt: -1_000_000 };
    const ds = run(start, [
      [2000, 0],
      [2600, 5000],
      [2000, 9000],
      [2000, 18_000],
      [2000, 19_000],
    ]);
    expect(ds.map((d) => d.target)).toEqual([4, 4, 4, 4, 3]);
  });

  test("scale-down respects its own (longer) cooldown", () => {
    const start = { current: 4, upStreak: 0, belowSince: null, lastChangeAt: 0 };
    const ds = run(start, [
      [0, 1000],
      [0, 20_000],
      [0, 119_999],
      [0, 120_000],
    ]);
    expect(ds.map((d) => d.reason)).toEqual(["hysteresis", "cooldown", "cooldown", "scale-down"]);
  });

  test("never scales below min", () => {
    const ds = run({ current: 1, upStreak: 0, belowSince: null, lastChangeAt: null }, [
      [0, 0],
      [0, 100_000],
      [0, 300_000],
    ]);
    expect(ds.every((d) => d.target === 1)).toBe(true);
  });

  test("scale-up is capped at the partition count", () => {
    const ds = run(initialAutoscaleState(1), [
      [50_000, 0],
      [50_000, 1],
      [50_000, 2],
    ], 3);
    expect(ds.at(-1)).toMatchObject({ target: 3, reason: "scale-up" });
  });

  test("a fleet above the (new) partition cap is corrected immediately", () => {
    const d = decideScale({ current: 6, upStreak: 0, belowSince: null, lastChangeAt: 0 }, { lag: 50_000, now: 1 }, replicas, 4, timing);
    expect(d).toMatchObject({ target: 4, reason: "bounds" });
  });

  test("unknown lag holds without touching the streaks", () => {
    const s = { current: 2, upStreak: 2, belowSince: null, lastChangeAt: null };
    const d = decideScale(s, { lag: -1, now: 5 }, replicas, null, timing);
    expect(d).toMatchObject({ target: 2, reason: "unknown-lag" });
    expect(d.state).toEqual(s);
  });
});
