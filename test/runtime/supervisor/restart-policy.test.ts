import { describe, expect, test } from "bun:test";
import { RestartPolicy } from "../../../shared/runtime/supervisor/restart-policy.ts";

const opts = { initialDelayMs: 250, maxDelayMs: 2000, resetAfterMs: 10_000, maxCrashes: 5, windowMs: 60_000 };

describe("RestartPolicy", () => {
  test("backoff doubles up to the cap", () => {
    const p = new RestartPolicy({ ...opts, maxCrashes: 100 });
    const delays = [0, 1, 2, 3, 4, 5].map((i) => {
      const v = p.onCrash(i * 100_000, 0);
      return v.action === "restart" ? v.delayMs : -1;
    });
    expect(delays).toEqual([250, 500, 1000, 2000, 2000, 2000]);
  });

  test("a worker that stayed up long enough resets the backoff", () => {
    const p = new RestartPolicy(opts);
    p.onCrash(0, 0);
    p.onCrash(1000, 0);
    expect(p.onCrash(2000, 0)).toMatchObject({ action: "restart", delayMs: 1000 });
    expect(p.onCrash(100_000, 50_000)).toMatchObject({ action: "restart", delayMs: 250 });
  });

  test("maxCrashes within the window is a crash loop", () => {
    const p = new RestartPolicy(opts);
    const verdicts = [0, 1000, 2000, 3000, 4000].map((t) => p.onCrash(t, 100).action);
    expect(verdicts).toEqual(["restart", "restart", "restart", "restart", "give-up"]);
  });

  test("crashes older than the window are forgotten", () => {
    const p = new RestartPolicy(opts);
    for (const t of [0, 1000, 2000, 3000]) p.onCrash(t, 100);
    expect(p.onCrash(70_000, 100)).toMatchObject({ action: "restart", crashesInWindow: 1 });
  });
});
