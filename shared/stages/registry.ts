/**
 * The stage registry: every stage kind topofleet knows, in the order the docs and the JSON Schema list them.
 * Adding a stage = a folder `shared/stages/<kind>/` with a `spec.ts` (see ./spec.ts) + one line here.
 * Only spec files are imported here; each spec imports its stage implementation lazily in `create`.
 */
import { customSpec } from "./custom/spec.ts";
import { dedupeSpec } from "./dedupe/spec.ts";
import { enrichSpec } from "./enrich/spec.ts";
import { filterSpec } from "./filter/spec.ts";
import { limitSpec } from "./limit/spec.ts";
import { persistSpec } from "./persist/spec.ts";
import type { EnrichNeeds } from "./needs.ts";
import { kafkaSinkSpec } from "./kafka-sink/spec.ts";
import type { AnyStageSpec, ConfigOf } from "./spec.ts";

/** Every registered stage spec. */
export const STAGE_SPECS = [enrichSpec, filterSpec, dedupeSpec, limitSpec, persistSpec, kafkaSinkSpec, customSpec] as const satisfies readonly AnyStageSpec[];

/** A registered spec. */
export type RegisteredSpec = (typeof STAGE_SPECS)[number];

/** The resolved config of any registered stage (discriminated by `kind`). */
export type StageConfig = ConfigOf<RegisteredSpec>;

/** The spec of a kind, or undefined for an unknown kind. */
export function stageSpec(kind: string): AnyStageSpec | undefined {
  return (STAGE_SPECS as readonly AnyStageSpec[]).find((s) => s.kind === kind);
}

/** The spec of a resolved config (its kind is registered by construction). */
export function specOf(cfg: { kind: string }): AnyStageSpec {
  const spec = stageSpec(cfg.kind);
  if (!spec) throw new Error(`stage kind "${cfg.kind}" is not registered in shared/stages/registry.ts`);
  return spec;
}

/** What one resolved stage config asks of enrich (its spec's `enrichNeeds`, see needs.ts), or nothing. */
export function needsOf(cfg: { kind: string }): EnrichNeeds {
  return stageSpec(cfg.kind)?.enrichNeeds?.(cfg) ?? {};
}
