/**
 * StageSpec: everything topofleet knows about one stage kind, in the stage's own folder
 * (`shared/stages/<kind>/spec.ts`), listed once in ./registry.ts. The topology loader (shared/topology/) only
 * iterates the registry: it validates `stages:` items against each spec's schema, runs its rules, resolves,
 * explains and estimates through it, and never names a kind. Adding a stage = one folder + one registry line.
 *
 * This file sits below shared/topology/ (it may import shared/config/, shared/errors/ and the Stage contract,
 * never the topology module): the views a spec receives are narrow on purpose, so a stage cannot come to
 * depend on the whole topology.
 */
import type { Logger } from "pino";
import type { Diagnostics } from "../config/diagnostics.ts";
import type { ObjectDesc, Typed } from "../config/dsl.ts";
import type { ModuleKind } from "./module-probe.ts";
import type { EnrichNeeds } from "./needs.ts";
import type { Stage, StageConfigBase } from "./stage.ts";

export type { StageConfigBase } from "./stage.ts";

/** What `resolve` gets besides the validated value. */
export interface ResolveContext {
  /** The topology's `name` (computed defaults such as Redis key prefixes). */
  topologyName: string;
  /** Key path of this stage in the file, e.g. `stages[2].dedupe`; append keys to it for diagnostics. */
  path: string;
  /** Cores of the machine resolving the file (computed defaults such as thread counts). */
  cores: number;
  /**
   * Absolute path of a file the topology refers to, relative to the topology file's directory. A missing file is
   * reported at `path` (the key path). `module: true` also tries the module extensions (.ts, .js, .mjs, .mts).
   */
  ref(path: string, value: string, opts?: { module?: boolean }): string;
  /** For problems only the resolver can see (they are reported with the key's file:line). */
  diag: Diagnostics;
}

type DeepPartial<T> = T extends (infer U)[] ? DeepPartial<U>[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/** A validated value as rules see it: any part may be missing when it was invalid (already reported). */
export type PartialValue<V> = DeepPartial<V> | undefined;

/** One item of the validated (possibly partial) `stages:` list. */
export interface StageItemView<V = unknown> {
  kind: string;
  index: number;
  /** Key path, e.g. `stages[2].dedupe`. */
  path: string;
  value: PartialValue<V>;
}

/** The pipeline as cross-stage rules see it. */
export interface PipelineRulesView {
  stages: readonly StageItemView[];
  /** The most worker processes the topology may run (rules about per-process state). */
  maxReplicas: number;
}

/** An order constraint between this stage and another kind, checked only when every stage's kind is known. */
export interface OrderRule<V = unknown> {
  /** The other stage kind. */
  kind: string;
  /** `before`: the other stage must come before this one; `after`: after it. */
  position: "before" | "after";
  /** True: the other stage must exist. False: the order is checked only when it does. */
  required: boolean;
  /** The rule applies only when this holds for this stage's value (e.g. `onMaybeSeen: verify`). */
  when?: (value: PartialValue<V>) => boolean;
  /** Key under this stage the message points at (default: the stage itself). */
  key?: string;
  message: string;
}

/** What a stage requires of the pipeline around it and of its own value beyond one key's descriptor. */
export interface StageRules<V = unknown> {
  /** A pipeline has at most one stage of this kind. */
  atMostOne?: boolean;
  order?: readonly OrderRule<V>[];
  /** Checks of this stage's value the descriptors cannot express (unique names in a list, a coherent mapping...). */
  check?: (self: StageItemView<V>, pipeline: PipelineRulesView, diag: Diagnostics) => void;
}

/** What `explain` and `capacity` know about the fleet the stage runs in. */
export interface FleetFacts {
  /** This machine's cores. */
  cores: number;
  /** The topic's partitions when known. */
  partitions?: number;
  replicas: { min: number; max: number };
  /** Replicas that actually consume: at most the partitions. */
  activeReplicas: number;
}

/** One stage's estimated ceiling in events per second (topology/capacity.ts names the smallest the bottleneck). */
export interface StageCeiling {
  stage: string;
  eventsPerSec: number;
  basis: string;
}

/** A whole-batch error code the stage throws (a TopofleetError of its failure domain in shared/errors). */
export interface ErrorCodeInfo {
  /** Whether a retry can help: always, never, or "depends" on the cause (the description says on what). */
  retriable: boolean | "depends";
  description: string;
}

/** Launch-time facts the supervisor provides (shared/runtime). */
export interface LaunchFacts {
  /** URL of the embedded PostgreSQL the supervisor started, or null when it started none. */
  embeddedDatabaseUrl: string | null;
}

/** A service the local supervisor (`bun run topology`) hosts for a stage. */
export type LocalService = "embedded-postgres";

/** A user module a stage imports, probed by `--validate` (shared/stages/module-probe.ts) before any worker starts. */
export interface UserModule {
  path: string;
  /** What the module must export: a StageFactory (`custom`) or enrich functions (`enrich`). */
  contract: ModuleKind;
}

/** What a stage's `migrate` gets. */
export interface MigrateContext {
  logger: Logger;
  /** The data directory (embedded state such as PGlite lives under it). */
  dataDir?: string;
}

/**
 * One stage kind. `V` is the validated value (user-facing shape, static defaults filled), `C` the resolved
 * config every later part trusts (ms, bytes, absolute paths, computed defaults).
 */
export interface StageSpec<K extends string = string, V = unknown, C extends StageConfigBase & { kind: K } = StageConfigBase & { kind: K }> {
  /** The key of a `stages:` item (`- dedupe: {...}`). */
  readonly kind: K;
  /** Schema of the item's value: validation, defaults, JSON Schema and the reference are generated from it. */
  readonly schema: ObjectDesc & Typed<V>;
  /** The smallest valid value (as YAML would give it), for docs and the compliance harness. */
  readonly example: Record<string, unknown>;
  /** Validated value → resolved config. */
  resolve(value: V, ctx: ResolveContext): C;
  /** The stage's name before resolving (duplicate-name rule); default: `value.name`. */
  nameOf?(value: PartialValue<V>): string | undefined;
  readonly rules?: StageRules<V>;
  /** Lines for `explain`: what it does and what it costs (at least one; the compliance harness checks). */
  explain(cfg: C, fleet: FleetFacts): string[];
  /** Its throughput ceiling, or undefined when it never bounds throughput. */
  capacity?(cfg: C, fleet: FleetFacts): StageCeiling | undefined;
  /** Builds the stage (lazy import inside, so a pipeline loads only the dependencies it uses). */
  create(cfg: C): Promise<Stage>;
  /** Whole-batch error codes it throws: a closed set, each with its retriable flag. */
  readonly errors: Readonly<Record<string, ErrorCodeInfo>>;
  /** Per-event dead-letter codes it rejects events with (code → meaning). */
  readonly rejections: Readonly<Record<string, string>>;
  /** Files the config refers to by path (deployments ship them beside the topology). */
  referencedFiles?(cfg: C): string[];
  /** User modules it imports (`--validate` probes them in a thread under the start-up deadline). */
  userModules?(cfg: C): readonly UserModule[];
  /** Prepares what it writes to (e.g. creates the table); run by `--migrate` and for embedded services. Returns what it did, for humans. */
  migrate?(cfg: C, ctx: MigrateContext): Promise<string>;
  /** Services the local supervisor must host for it. */
  localServices?(cfg: C): readonly LocalService[];
  /** The config with launch-time facts applied; throws a ConfigError when one it needs is missing. */
  applyLaunch?(cfg: C, launch: LaunchFacts): C;
  /** The largest event value it accepts, when it bounds that (the dead-letter producer sizes its messages from it). */
  maxEventBytes?(cfg: C): number;
  /**
   * What it needs the enrich threads to prepare per event (Bloom probes, encoded rows, JSON); the enrich plan
   * is the union over the stages after enrich (shared/stages/needs.ts). Absent: nothing.
   */
  enrichNeeds?(cfg: C): EnrichNeeds;
}

/**
 * Any registered spec. `any` because the registry holds specs of different value and config types and the
 * hooks take their own config (contravariant): callers pass the config the spec itself resolved.
 */
export type AnyStageSpec = StageSpec<string, any, any>;

/** The resolved config type of a spec. */
export type ConfigOf<S> = S extends { resolve(value: never, ctx: ResolveContext): infer C } ? C : never;

/** Declares a spec with its types inferred from the schema and the resolver. */
export function defineStage<K extends string, V, C extends StageConfigBase & { kind: K }>(spec: StageSpec<K, V, C>): StageSpec<K, V, C> {
  return spec;
}
