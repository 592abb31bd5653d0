/**
 * Helpers for the security tests: the real CLI as a subprocess (dev/support/cli-process.ts) and grepping
 * captured text for planted secrets.
 */
export { CliProcess, REPO, runCliToEnd as runCli } from "../../dev/support/cli-process.ts";

/** The names of the needles found in `text` (empty when clean). */
export function leaks(text: string, needles: Record<string, string>): string[] {
  return Object.entries(needles)
    .filter(([, v]) => text.includes(v))
    .map(([k]) => k);
}
