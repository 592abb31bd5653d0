/**
 * Every relative link in README.md and docs/ points at a file that exists and, with a `#fragment`, at a
 * heading of that file (GitHub's anchor rules), so moving or renaming a section cannot leave dead links; and
 * every repository path the prose names in backticks (`shared/stages/registry.ts`) still exists.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { Glob } from "bun";

const REPO = resolve(import.meta.dir, "../..");
const DOCS = ["README.md", ...[...new Glob("docs/**/*.md").scanSync({ cwd: REPO })].sort()];

/** The text outside fenced code blocks and inline code spans (links there are examples, not links). */
const prose = (md: string) => md.replace(/^```[\s\S]*?^```/gm, "").replace(/`[^`\n]*`/g, "");

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to `-`, repeats numbered. */
export function anchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of md.replace(/^```[\s\S]*?^```/gm, "").matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const text = m[1].replace(/\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/<[^>]+>/g, "");
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/ /g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

describe("links in README.md and docs/", () => {
  test("the heading anchors follow GitHub's rules", () => {
    expect([...anchors("## Crash recovery: what a `kill -9` costs\n## A\n## A\n")]).toEqual(["crash-recovery-what-a-kill--9-costs", "a", "a-1"]);
  });

  for (const file of DOCS) {
    test(`${file}: every relative link resolves`, () => {
      const text = readFileSync(join(REPO, file), "utf8");
      const broken: string[] = [];
      for (const m of prose(text).matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1];
        if (/^[a-z]+:/i.test(target)) continue; // http(s), mailto: not ours to check
        const [path, fragment] = target.split("#", 2);
        const abs = path ? resolve(dirname(join(REPO, file)), path) : join(REPO, file);
        if (!existsSync(abs)) {
          broken.push(`${target}: no such file ${relative(REPO, abs)}`);
          continue;
        }
        if (fragment === undefined || statSync(abs).isDirectory() || !abs.endsWith(".md")) continue;
        if (!anchors(readFileSync(abs, "utf8")).has(fragment)) broken.push(`${target}: no heading #${fragment} in ${relative(REPO, abs)}`);
      }
      expect(broken).toEqual([]);
    });

    test(`${file}: every repository path it names exists`, () => {
      const text = readFileSync(join(REPO, file), "utf8").replace(/^```[\s\S]*?^```/gm, "");
      // Paths in backticks under the repository's top folders; placeholders (<name>, *, …) are not paths.
      const named = [...text.matchAll(/`((?:shared|dev|test|workers|topologies|docs|\.ci)\/[^`\s<>*…{}]*)`/g)].map((m) => m[1].split(":")[0]);
      expect(named.filter((p) => !existsSync(join(REPO, p)))).toEqual([]);
    });
  }
});
