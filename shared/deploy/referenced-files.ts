import { dirname, relative, sep } from "node:path";
import { ConfigError } from "../errors/index.ts";
import { specOf } from "../stages/registry.ts";
import type { ResolvedTopology } from "../topology/types.ts";

/** A file the topology needs at run time (lookup table, enrich or custom-stage module, tenant limits file). */
export interface ReferencedFile {
  /** Absolute path on this machine. */
  path: string;
  /** Path relative to the topology file's directory, as the file refers to it. */
  relativePath: string;
}

/**
 * Files a topology refers to by path. Deployments that ship the topology as data (a ConfigMap) must ship
 * these beside it with the same relative layout, or the loader fails at start with "file not found".
 */
export function referencedFiles(t: ResolvedTopology): ReferencedFile[] {
  const base = dirname(t.file);
  const paths = new Set<string>();
  for (const s of t.stages) for (const path of specOf(s).referencedFiles?.(s) ?? []) paths.add(path);
  return [...paths].map((path) => {
    const rel = relative(base, path);
    if (rel.startsWith("..") || rel.startsWith(sep)) {
      throw new ConfigError(
        "CONFIG_INVALID",
        `${path} is outside the topology's directory (${base}): place it beside the topology file, or build it into the image and refer to it by absolute path`,
      );
    }
    return { path, relativePath: rel };
  });
}

/** A ConfigMap data key for a relative path (keys may not contain "/"). */
export const configMapKey = (rel: string): string => rel.replaceAll(sep, "__");
