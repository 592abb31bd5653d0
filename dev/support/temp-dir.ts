/** Temporary directories for tests and dev tools, each with its own cleanup. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A fresh directory under the OS temp dir and the function that removes it. */
export interface TempDir {
  readonly dir: string;
  /** Removes the directory and everything in it (idempotent). */
  cleanup(): void;
}

/** Creates `<tmp>/tf-<prefix>-XXXXXX`. */
export function tempDir(prefix: string): TempDir {
  const dir = mkdtempSync(join(tmpdir(), `tf-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
