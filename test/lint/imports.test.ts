/**
 * The import rules (.dependency-cruiser.cjs, `bun run lint:imports`) can fail: run on a small tree that breaks
 * each of them on purpose, they report every break by rule name and exit non-zero.
 */
import { describe, expect, test } from "bun:test";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "../..");

/** Runs dependency-cruiser with the repository's rules in `cwd`; its exit code and report. */
function cruise(cwd: string, paths: string[]): { code: number; report: string } {
  // --bun: dependency-cruiser refuses Node versions below 22; Bun's runtime reports a supported one.
  const p = Bun.spawnSync(["bun", "--bun", join(root, "node_modules/.bin/depcruise"), ...paths, "--config", join(root, ".dependency-cruiser.cjs"), "--output-type", "err"], { cwd });
  return { code: p.exitCode, report: `${p.stdout.toString()}${p.stderr.toString()}` };
}

describe("import rules", () => {
  test("a tree with an upward import, a type-only cycle, audit -> replay and a folder in no layer, shipped code importing dev/ and dev/ importing test/ fails with each rule named", () => {
    const { code, report } = cruise(join(import.meta.dir, "fixtures/imports"), ["shared", "dev"]);
    expect(code).not.toBe(0);
    expect(report).toContain("layer-0-imports-up: shared/errors/base.ts → shared/stages/thing.ts");
    expect(report).toMatch(/no-circular: shared\/config\/(a|b)\.ts/);
    expect(report).toContain("audit-and-replay-independent: shared/audit/count.ts → shared/replay/plan.ts");
    expect(report).toContain("every-folder-in-a-layer: shared/stray/loose.ts");
    expect(report).toContain("no-shipped-to-dev-or-test: shared/stages/thing.ts → dev/tool.ts");
    expect(report).toContain("no-dev-to-test: dev/tool.ts → test/fixture.ts");
  }, 60_000);
});
