import { readFileSync } from "node:fs";

/** Names of the environment variables a topology file references via `${VAR}` / `${VAR:-default}`. */
export function referencedEnvVars(topologyText: string): string[] {
  const names = new Set<string>();
  // `$${` is an escaped literal, not a reference.
  for (const m of topologyText.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}/g)) names.add(m[1]);
  return [...names].sort();
}

/** The topology file's original text (with `${VAR}` placeholders intact, so no secret is ever copied out). */
export function topologyText(file: string): string {
  return readFileSync(file, "utf8");
}
