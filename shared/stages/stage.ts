/**
 * The one interface every pipeline stage implements: enrich, dedupe, persist, and user stages loaded from
 * a module path in the topology file.
 *
 * Contract with the engine (shared/runtime/engine):
 * - `process(batch)` works only on events whose status is Live, and moves each of them to a terminal status
 *   (`batch.reject`, `batch.markDuplicate`, `batch.markPersisted`) or leaves it Live for the next stage.
 *   A HoldingStage may also hold it (`batch.hold`, see HoldingStage below).
 *   Events still Live after the last stage are a bug and fail the worker.
 * - A whole-batch failure is thrown as a TopofleetError. `retriable: true` makes the engine pause the
 *   partitions, back off and call `process` again with the same batch, so `process` must be safe to repeat
 *   (it is called again only for events still Live). `retriable: false` stops the worker without committing.
 * - A problem with one event is never thrown: it is `batch.reject(i, {stage, code, reason})` and the engine
 *   dead-letters that event with the reason in headers.
 * - The engine records `eventsIn`, `eventsOut` and `batchSeconds` (label `stage` = the stage's name) around
 *   every `process` call, for every stage; a stage records only its own specific metrics.
 * - A stage after enrich changes an event through `batch.updateEvent` (never by writing the columns), so
 *   every sink writes the changed event.
 * - Sinks (persist, kafkaSink, or a custom module exporting `new SinkStage(sink)`) implement the narrower
 *   Sink interface of ./sink.ts and run through SinkStage, which settles events for them.
 */
import type { Logger } from "pino";
import type { Batch } from "./batch.ts";
import type { EnrichNeeds } from "./needs.ts";
import type { StageConfigBase } from "./stage-config.ts";
import type { Metrics } from "../telemetry/metrics.ts";

export type { StageConfigBase } from "./stage-config.ts";

/**
 * The part of the resolved topology a stage may read at start: its peers' configs (e.g. enrich builds rows for
 * the persist stage's columns) and the pipelining depth. Narrow on purpose: stages sit below shared/topology/.
 */
export interface PipelineView {
  name: string;
  stages: readonly StageConfigBase[];
  concurrency: { inFlightBatches: number };
}

/** What a stage gets from the worker when it starts. */
export interface StageContext {
  topology: PipelineView;
  /** 0-based worker index within the fleet (stable across restarts of that slot). */
  workerId: number;
  logger: Logger;
  metrics: Metrics;
  /** Directory for embedded state (PGlite data, etc.). */
  dataDir: string;
  /** The other stages of this pipeline, in order, so a stage can find a peer capability (see IdentityStore). */
  stages: readonly Stage[];
  /**
   * What a peer's config asks the enrich threads to prepare (the registry's `needsOf`). Handed in by whoever
   * starts the stages, because the registry sits above every stage: enrich reading it would tie a circle.
   */
  needsOf(cfg: StageConfigBase): EnrichNeeds;
}

/** Result of a readiness probe of a stage's dependencies. */
export interface StageHealth {
  ok: boolean;
  detail?: string;
}

/** A pipeline stage. */
export interface Stage {
  /** Stage kind: "enrich", "dedupe", "persist", or "custom". */
  readonly kind: string;
  /** Unique name in the pipeline (defaults to the kind); used in metrics labels and DLQ headers. */
  readonly name: string;
  /** Connects to dependencies, runs migrations, warms caches. Throws a TopofleetError on failure. */
  start(ctx: StageContext): Promise<void>;
  /** Processes the Live events of a batch (see the contract above). */
  process(batch: Batch): Promise<void>;
  /** Whether the stage's dependencies answer right now (used by /readyz). */
  health(): Promise<StageHealth>;
  /** Releases resources; called once, after the last `process` has settled. */
  close(): Promise<void>;
}

/**
 * A capability the persist stage offers to the dedupe stage: which events already exist in the store of
 * record. Dedupe uses it to verify "maybe seen" Bloom answers so that a false positive never drops a real event.
 */
export interface IdentityStore {
  /** Returns the subset of `indexes` whose identity (source, id) is already durably stored. One round trip. */
  existing(batch: Batch, indexes: readonly number[]): Promise<Set<number>>;
}

/** Type guard for stages that can verify identities. */
export function isIdentityStore(s: unknown): s is IdentityStore {
  return typeof (s as IdentityStore)?.existing === "function";
}

/**
 * A stage that asked enrich for Bloom probes (EnrichNeeds.probes) but may not use them: the dedupe stage on
 * RedisBloom, which hashes the keys itself, known only once it has reached Redis (after enrich has started).
 * Enrich asks before every batch.
 */
export interface ProbeUser {
  /** Whether the next batch's probes would be read. */
  probesWanted(): boolean;
}

/** Type guard for stages that say whether they read the probes they asked for. */
export function isProbeUser(s: unknown): s is ProbeUser {
  return typeof (s as ProbeUser)?.probesWanted === "function";
}

/** The default export of a custom stage module: a factory given the `options` from the topology file. */
export type StageFactory = (options: Record<string, unknown>) => Stage | Promise<Stage>;

/**
 * A stage that may leave events Held (EventStatus.Held) instead of Live: the limit stage's `delay` policy.
 * The engine runs the later stages for the batch's Live events at once, then awaits `released` and runs the
 * stages after the holder for the events set Live again, until none is held. The batch's offsets commit only
 * after that (the offset tracker never commits past a batch still in flight).
 */
export interface HoldingStage extends Stage {
  /** Past these many held events or batches waiting for held events, the worker stops consuming until some are released. */
  readonly holdBounds: { events: number; batches: number };
  /**
   * Resolves once at least one held event of `batch` was set Live again (or none is held); rejects when
   * `signal` aborts (the batch was abandoned on revocation or shutdown: its offsets are not committed).
   */
  released(batch: Batch, signal: AbortSignal): Promise<void>;
}

/** Type guard for stages that can hold events. */
export function isHoldingStage(s: Stage): s is HoldingStage {
  return typeof (s as HoldingStage).released === "function";
}
