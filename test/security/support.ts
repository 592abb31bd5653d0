/**
 * Helpers for the security tests: temp topology files, the real CLI as a subprocess (dev/faults/cli-process.ts),
 * and grepping captured text for planted secrets.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { IN_CI } from "../support/services.ts";

export { CliProcess, REPO, runCliToEnd as runCli } from "../../dev/faults/cli-process.ts";

/**
 * Whether to skip a suite that needs local tools (openssl, redis-server, PostgreSQL server binaries): only
 * outside CI, with the reason printed. Under CI a missing tool is not skipped: the suite runs and fails loudly.
 */
export function skipWithout(available: boolean, suite: string, missing: string): boolean {
  if (available) return false;
  if (IN_CI) return false;
  console.warn(`[skip] ${suite}: ${missing}`);
  return true;
}

/** A temp directory for one test file. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes `yaml` as `<dir>/<name>` and returns the path. */
export function writeTopology(dir: string, name: string, yaml: string): string {
  const file = join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

/** The names of the needles found in `text` (empty when clean). */
export function leaks(text: string, needles: Record<string, string>): string[] {
  return Object.entries(needles)
    .filter(([, v]) => text.includes(v))
    .map(([k]) => k);
}
