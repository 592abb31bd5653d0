import { afterAll, beforeAll, expect, test } from "bun:test";
import { FaultServices, Scenario } from "./harness.ts";
let env: FaultServices;
beforeAll(async () => { env = await FaultServices.start(); }, 60_000);
afterAll(async () => { await env?.stop(); }, 60_000);
test("scratch", async () => {
  const s = new Scenario(env, { label: "scratch", events: 30_000, rate: 3000, partitions: 6 });
  try {
    const dbg = { TOPOFLEET_LOG_LEVEL: "debug" };
    const first = s.startFleet(dbg);
    const producing = s.produce();
    await s.waitCommitted(4000, 90_000);
    const extra = [s.startFleet(dbg), s.startFleet(dbg)];
    await Promise.all(extra.map((f) => f.waitForStderr(/"msg":"partitions assigned"/, 60_000)));
    await Bun.sleep(5000);
    for (const f of extra) await s.stopFleet(f);
    const { manifest } = await producing;
    const r = await s.finish(manifest, { exactDuplicates: false });
  } finally { await s.cleanup(true); }
}, 300_000);
