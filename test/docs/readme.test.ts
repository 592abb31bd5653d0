/**
 * The README stays a page: at most 200 lines, the two set-up commands a newcomer needs exactly as CI and the
 * demo test run them, and a link to every page under docs/ (the rest of the documentation lives there).
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Glob } from "bun";

const REPO = resolve(import.meta.dir, "../..");
const readme = readFileSync(join(REPO, "README.md"), "utf8");

describe("README.md", () => {
  test("is at most 200 lines", () => {
    expect(readme.trimEnd().split("\n").length).toBeLessThanOrEqual(200);
  });

  test("gives the two set-up commands: the demo on the embedded default, and the tests CI runs", () => {
    expect(readme).toContain("bash dev/setup.sh && bun run topology topologies/demo.yaml\n");
    expect(readme).toContain("bash dev/setup.sh && bun run test\n");
    expect(readFileSync(join(REPO, ".ci/run"), "utf8")).toMatch(/^run_part unit .* bun run test$/m);
  });

  test("links to every page under docs/", () => {
    const pages = [...new Glob("docs/**/*.md").scanSync({ cwd: REPO })].sort();
    expect(pages.length).toBeGreaterThan(0);
    expect(pages.filter((p) => !readme.includes(`](${p})`) && !readme.includes(`](${p}#`))).toEqual([]);
  });
});
