/** Entry points of the loader: file or text → validated, resolved topology, or one ConfigError with every issue. */
import { readFile } from "node:fs/promises";
import { resolve as resolvePath } from "node:path";
import { ConfigError } from "../errors/index.ts";
import { Diagnostics } from "../config/diagnostics.ts";
import type { Env } from "./interpolate.ts";
import { resolveTopology } from "./resolve.ts";
import { checkRules, type PartialTopologyFile } from "./rules.ts";
import { topologySchema, type TopologyFile } from "./schema/topology.ts";
import type { ResolvedTopology } from "./types.ts";
import { validateDocument } from "./validate.ts";
import { parseYaml } from "./yaml-source.ts";

/** Options of loadTopology / parseTopology. */
export interface LoadOptions {
  /** Environment for `${VAR}` interpolation; defaults to process.env. */
  env?: Env;
  /** Command-line overrides applied after validation. */
  overrides?: { replicas?: number };
  /** Core count used for computed defaults (enrich threads); defaults to this machine's. */
  cores?: number;
}

/** Reads, interpolates, validates and resolves a topology file. Throws ConfigError (CONFIG_NOT_FOUND, CONFIG_YAML_SYNTAX, CONFIG_ENV_MISSING, CONFIG_INVALID). */
export async function loadTopology(file: string, opts: LoadOptions = {}): Promise<ResolvedTopology> {
  const abs = resolvePath(file);
  let text: string;
  try {
    text = await readFile(abs, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : `cannot be read (${code ?? String(err)})`;
    throw new ConfigError("CONFIG_NOT_FOUND", `topology file ${abs}: ${why}`, [], err);
  }
  return parseTopology(text, abs, opts.env ?? process.env, opts);
}

/** Same as loadTopology on text already in memory; `file` names it in messages and anchors relative paths. */
export function parseTopology(text: string, file: string, env: Env = process.env, opts: Omit<LoadOptions, "env"> = {}): ResolvedTopology {
  const abs = resolvePath(file);
  const src = parseYaml(text, abs);
  const diag = new Diagnostics(abs);
  const validated = validateDocument(src, topologySchema, env, diag);
  checkRules(validated as PartialTopologyFile, diag);
  // Resolving needs a complete file; with issues already found it would only add noise.
  const resolved = diag.issues.length === 0 ? resolveTopology(validated as TopologyFile, abs, diag, { cores: opts.cores }) : undefined;
  if (resolved && opts.overrides?.replicas !== undefined) applyReplicasOverride(resolved, opts.overrides.replicas, diag);
  if (diag.issues.length > 0 || !resolved) throw toConfigError(diag);
  return resolved;
}

function applyReplicasOverride(t: ResolvedTopology, replicas: number, diag: Diagnostics): void {
  if (!Number.isInteger(replicas) || replicas < 1) {
    diag.add("concurrency.replicas", `the --replicas override must be an integer >= 1, got ${replicas}`);
    return;
  }
  t.concurrency.replicas = { ...t.concurrency.replicas, min: replicas, max: replicas };
}

function toConfigError(diag: Diagnostics): ConfigError {
  const issues = [...diag.issues].sort((a, b) => a.line - b.line || a.column - b.column);
  const onlyEnv = issues.every((i) => i.kind === "env");
  const limit = issues.some((i) => i.kind === "bound");
  const n = issues.length;
  return new ConfigError(
    limit ? "CONFIG_LIMIT" : onlyEnv ? "CONFIG_ENV_MISSING" : "CONFIG_INVALID",
    `${diag.file}: ${n} problem${n === 1 ? "" : "s"} in the topology`,
    issues.map(({ kind: _kind, ...issue }) => issue),
  );
}
