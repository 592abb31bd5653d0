/**
 * Writes docs/reference/*.md from the code (`bun run docs:reference`). test/docs/reference.test.ts
 * regenerates them in memory and fails when a committed page differs.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { referencePages } from "./pages.ts";

const REPO = resolve(import.meta.dir, "../..");

for (const [path, text] of referencePages()) {
  mkdirSync(dirname(join(REPO, path)), { recursive: true });
  writeFileSync(join(REPO, path), text);
  console.log(`wrote ${path}`);
}
