import { expect, test } from "bun:test";
import { PeakRssSampler, processTree } from "../../shared/loadgen/process-tree.ts";

test("the sampler finds a child's child and its peak RSS grows with what it allocates", async () => {
  // sh -> bun: the bun process is a grandchild of this test process's spawn.
  const script = "const a = new Uint8Array(64 * 1024 * 1024).fill(1); await Bun.sleep(1500); console.log(a[5]);";
  const child = Bun.spawn(["sh", "-c", `"${process.execPath}" -e '${script}'; true`], { stdout: "ignore" });
  const sampler = new PeakRssSampler(child.pid).start(100);
  await Bun.sleep(1000);
  const live = processTree(child.pid);
  await child.exited;
  const peaks = sampler.stop();
  expect(live.map((p) => p.pid)).toContain(child.pid);
  const bun = peaks.find((p) => p.ppid === child.pid && p.command.includes("-e"));
  expect(bun).toBeDefined();
  expect(bun!.peakRssBytes).toBeGreaterThan(64 * 1024 * 1024);
  expect(processTree(child.pid)).toEqual([]); // gone after exit
}, 30_000);
