/** Deployment emitters: one topology file → systemd units, Kubernetes + KEDA manifests, or a compose service. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ResolvedTopology } from "../topology/types.ts";
import { renderSystemd, type SystemdOptions } from "./systemd.ts";
import { renderK8s, type K8sOptions } from "./k8s.ts";
import { renderCompose } from "./compose.ts";

export type EmitKind = "systemd" | "k8s" | "compose";
export const EMIT_KINDS: readonly EmitKind[] = ["systemd", "k8s", "compose"];
export type EmitOptions = SystemdOptions & K8sOptions & { image?: string; partitions?: number };

export { renderSystemd, renderK8s, renderCompose };
export { scalingBounds, deploymentName } from "./scaling.ts";

/** Renders the files for `kind` without writing them. */
export function render(kind: EmitKind, t: ResolvedTopology, opts: EmitOptions = {}): Map<string, string> {
  switch (kind) {
    case "systemd":
      return renderSystemd(t, opts);
    case "k8s":
      return renderK8s(t, opts);
    case "compose":
      return renderCompose(t, opts);
  }
}

/** Writes the files for `kind` into `outDir` (created if needed); returns the paths written. */
export function emit(kind: EmitKind, t: ResolvedTopology, outDir: string, opts: EmitOptions = {}): string[] {
  const files = render(kind, t, opts);
  mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  for (const [name, text] of files) {
    const p = join(outDir, name);
    writeFileSync(p, text, { mode: name.endsWith(".env.example") ? 0o600 : 0o644 });
    written.push(p);
  }
  return written;
}
