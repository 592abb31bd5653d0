/**
 * The enrich stage on the main thread: slices each batch across the piscina threads, merges their columns
 * into `batch.events`, dead-letters the events they rejected, and keeps the lookup tables fresh. All
 * per-event CPU work happens in the threads (thread.ts); this file only moves buffers and counts.
 */
import type { Logger } from "pino";
import { ConfigError, EnrichError } from "../../errors/index.ts";
import type { EnrichStageConfig } from "./config.ts";
import { EventStatus, type Batch } from "../batch.ts";
import { isProbeUser, type ProbeUser, type Stage, type StageContext, type StageHealth } from "../stage.ts";
import { LookupSources } from "./lookup-sources.ts";
import { buildEnrichPlan, checkEnrichConfig, stagesServed, type EnrichPlan } from "./plan.ts";
import { EnrichPool } from "./pool.ts";
import { isThreadDeath, runIsolating, type RangeResult } from "./isolate.ts";
import { probeModule, withinModuleDeadline } from "../module-probe.ts";
import type { EnrichSliceOk, EnrichTask } from "./protocol.ts";
import { allocateEvents, attachCopyBytes, mergeSlice, planSlices, sliceTask, type SliceRange } from "./slices.ts";

/** A task that only makes a thread load the user module (so a broken module fails start, not the first batch). */
function warmUpTask(): EnrichTask {
  return {
    start: 0,
    size: 0,
    topics: [],
    topicIndex: new Uint16Array(0),
    partitions: new Int32Array(0),
    offsets: new Float64Array(0),
    timestamps: new Float64Array(0),
    values: new Uint8Array(0),
    valueStarts: new Uint32Array(1),
    valueNull: new Uint8Array(0),
    headers: null,
    skip: null,
    ingestedAt: Date.now(),
    lookups: null,
    warmUp: true,
  };
}

/**
 * The deadline of a slice: the configured one for a full slice; while a batch is bisected (isolate.ts) a part
 * gets its share of it, but at least MIN_PART_DEADLINE_MS (or the whole deadline when that is shorter): room
 * for a replacement thread to start and load the user module after a terminated one. Finding one slow event
 * among thousands then costs about two deadlines plus that floor per bisection level, not a deadline per level.
 */
export function sliceDeadline(timeoutMs: number, range: SliceRange, full: SliceRange): number {
  const share = (timeoutMs * (range.end - range.start)) / Math.max(1, full.end - full.start);
  return Math.max(Math.min(timeoutMs, MIN_PART_DEADLINE_MS), share);
}

const MIN_PART_DEADLINE_MS = 5000;

/** A stage that asked for probes and cannot say whether it reads them: it always gets them. */
const ALWAYS_READS: ProbeUser = { probesWanted: () => true };

/**
 * Who reads the Bloom probes the plan builds: each stage that asked for them (ALWAYS_READS when it is not a
 * ProbeUser, or not among the started stages). Empty when no stage asked (the plan then has none).
 */
function probeReaders(enrich: string, ctx: StageContext): ProbeUser[] {
  return stagesServed(enrich, ctx.topology)
    .filter((cfg) => ctx.needsOf(cfg).probes !== undefined)
    .map((cfg) => {
      const stage = ctx.stages.find((s) => s.name === cfg.name);
      return isProbeUser(stage) ? stage : ALWAYS_READS;
    });
}

/** CloudEvents validation and enrichment in a piscina pool (see shared/stages/enrich/). */
export class EnrichStage implements Stage {
  readonly kind = "enrich";
  readonly name: string;
  private pool: EnrichPool | null = null;
  private lookups: LookupSources | null = null;
  private plan: EnrichPlan | null = null;
  private logger: Logger | null = null;
  private probeUsers: ProbeUser[] = [];
  /** Batches whose last attempt lost a thread: their retry isolates poison events (isolate.ts). */
  private readonly crashedOnce = new WeakSet<Batch>();

  constructor(private readonly cfg: EnrichStageConfig) {
    checkEnrichConfig(cfg);
    this.name = cfg.name;
  }

  /**
   * Loads the lookups, starts the threads and has each load the user module. A module that cannot be
   * loaded fails with ConfigError CONFIG_MODULE_LOAD; a PostgreSQL lookup that cannot be read fails with a
   * retriable EnrichError ENRICH_LOOKUP_UNAVAILABLE.
   */
  async start(ctx: StageContext): Promise<void> {
    const plan = buildEnrichPlan(this.cfg, ctx.topology, ctx.workerId, ctx.needsOf);
    this.plan = plan;
    this.probeUsers = probeReaders(this.name, ctx);
    this.logger = ctx.logger.child({ stage: this.name });
    this.lookups = await LookupSources.start(this.cfg.lookups, { stage: this.name, logger: this.logger, metrics: ctx.metrics });
    // Room for every slice of every in-flight batch, twice over; beyond that a typed error, never unbounded growth.
    const maxQueue = Math.max(64, ctx.topology.concurrency.inFlightBatches * this.cfg.threads * 2);
    const what = `enrich stage "${this.name}"`;
    // A module that throws, exits, spins or never finishes at import is a configuration error, found in a
    // probe thread under the start-up deadline before any pool thread depends on it.
    if (plan.module) await probeModule(what, plan.module, "enrich");
    this.pool = new EnrichPool({ threads: this.cfg.threads, plan, maxQueue, logger: this.logger });
    if (plan.module) {
      const warmUps = Promise.all(Array.from({ length: this.cfg.threads }, () => this.pool!.run(warmUpTask(), [])));
      try {
        await withinModuleDeadline(warmUps, what, plan.module, "loading the module in the enrich threads");
      } catch (e) {
        // Threads stuck in the module would never finish a graceful close.
        warmUps.catch(() => undefined);
        await this.destroy();
        if (e instanceof EnrichError && e.code === "ENRICH_MODULE_FAILED") throw new ConfigError("CONFIG_MODULE_LOAD", e.message, [], e);
        throw e;
      }
    }
  }

  /** Terminates the threads at once (a thread stuck in a user module never finishes its task) and stops the lookups. */
  private async destroy(): Promise<void> {
    const pool = this.pool;
    const lookups = this.lookups;
    this.pool = null;
    this.lookups = null;
    await Promise.all([pool?.destroy(), lookups?.close()]);
  }

  /**
   * Enriches the Live events of the batch and sets `batch.events`. Safe to repeat: nothing is applied to
   * the batch unless every slice succeeded, and events settled meanwhile are skipped. A thread death fails
   * the batch (retriable); the retry of that batch isolates the events that kill a thread on their own.
   */
  async process(batch: Batch): Promise<void> {
    const pool = this.pool;
    const plan = this.plan;
    if (!pool || !plan || !pool.open) {
      throw new EnrichError("ENRICH_POOL_FAILED", `enrich stage ${this.name} is not running (not started, or closed)`, { retriable: false });
    }
    const live = batch.count(EventStatus.Live);
    if (live === 0) return;
    const ingestedAt = Date.now();
    const share = this.lookups!.share();
    const ranges = planSlices(batch.size, this.cfg.threads);
    // Hashing every key for a filter that hashes them itself (RedisBloom) cost up to ~0.3 µs per event in the thread.
    const probes = plan.dedupe !== null && this.probeUsers.some((u) => u.probesWanted());
    const run = (range: SliceRange) => {
      const { task, transfer } = sliceTask(batch.records, batch.status, range, ingestedAt, share, probes);
      return pool.run(task, transfer, sliceDeadline(this.cfg.sliceTimeoutMs, range, ranges[0]));
    };
    let results: RangeResult[];
    if (this.crashedOnce.has(batch)) {
      // This batch already killed a thread: find and dead-letter the events that kill one alone.
      const isolated = await Promise.all(ranges.map((range) => runIsolating(range, run)));
      results = isolated.flat();
    } else {
      const settled = await Promise.allSettled(ranges.map(run));
      const failure = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
      if (failure) {
        if (isThreadDeath(failure.reason)) this.crashedOnce.add(batch);
        throw failure.reason;
      }
      results = settled.map((s, k) => ({ range: ranges[k], slice: (s as PromiseFulfilledResult<EnrichSliceOk>).value }));
    }

    const events = allocateEvents(batch.size, probes ? plan.dedupe!.layout.k + 1 : 0, ingestedAt);
    for (const { range, slice } of results) {
      mergeSlice(events, range.start, slice);
      for (const [index, code, reason] of slice.rejections) {
        const i = range.start + index;
        if (batch.status[i] !== EventStatus.Live) continue;
        batch.reject(i, { stage: this.name, code, reason });
      }
      for (const warning of slice.warnings) this.logger!.warn({ batch: batch.id }, warning);
    }
    attachCopyBytes(events, results, batch.size);
    // Per-stage events in/out and batch latency are recorded by the engine for every stage (shared/stages/stage.ts).
    batch.events = events;
  }

  /** Ok while the pool has live threads; the detail names stale lookups (the last table is still served). */
  async health(): Promise<StageHealth> {
    if (!this.pool || !this.pool.open) return { ok: false, detail: "not started" };
    const threads = this.pool.threads;
    const problems = this.lookups?.problems() ?? [];
    return { ok: threads > 0, detail: [`${threads}/${this.cfg.threads} threads`, ...problems].join("; ") };
  }

  /** Reloads the PostgreSQL lookups now (they also refresh on their own every refreshMs); true when all succeeded. */
  async refreshLookups(): Promise<boolean> {
    return this.lookups ? this.lookups.refreshAll() : true;
  }

  /** Stops the lookup refreshes and the threads. */
  async close(): Promise<void> {
    const pool = this.pool;
    const lookups = this.lookups;
    this.lookups = null;
    await Promise.all([pool?.close(), lookups?.close()]);
  }
}
