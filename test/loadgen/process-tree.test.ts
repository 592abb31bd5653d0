import { expect, test } from "bun:test";
import { PeakRssSampler, processTree, rssTrend } from "../../shared/loadgen/process-tree.ts";

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

test("the sampler keeps each process's RSS over time, and rssTrend tells growth from a plateau", async () => {
  const child = Bun.spawn([process.execPath, "-e", "const a = new Uint8Array(32 * 1024 * 1024).fill(1); await Bun.sleep(800); console.log(a[1]);"], { stdout: "ignore" });
  const sampler = new PeakRssSampler(child.pid).start(50);
  await child.exited;
  sampler.stop();
  const series = sampler.rssSeries(child.pid);
  expect(series.length).toBeGreaterThan(5);
  expect(Math.max(...series.map(([, b]) => b))).toBeGreaterThan(32 * 1024 * 1024);

  const minutes = (mbs: number[]) => mbs.map((mb, i): [number, number] => [i * 60_000, mb * 2 ** 20]);
  const flat = rssTrend(minutes([300, 302, 299, 301, 300, 303, 298, 300, 301, 300]))!;
  expect(Math.abs(flat.slopeMbPerMin)).toBeLessThan(0.5);
  const leak = rssTrend(minutes([300, 310, 320, 330, 340, 350, 360, 370, 380, 390]))!;
  expect(leak.slopeMbPerMin).toBeCloseTo(10, 5);
  expect(leak.firstQuarterMb).toBe(305);
  expect(leak.lastQuarterMb).toBe(385);
  // The warm-up is left out, and too few samples give no verdict.
  expect(rssTrend(minutes([100, 300, 300, 300, 300, 300, 300, 300, 300, 300]), 60_000)!.slopeMbPerMin).toBe(0);
  expect(rssTrend(minutes([1, 2, 3]))).toBeNull();
}, 30_000);
