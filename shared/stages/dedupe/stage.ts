/**
 * The dedupe stage: drops events already stored, without ever dropping a real event.
 *
 * Per batch: (1) exact duplicates inside the batch are dropped (first occurrence stays); (2) the Bloom filter
 * of the current time window is test-and-set for the rest, and the previous window is consulted too;
 * (3) events the filter calls "maybe seen" are verified against PostgreSQL in one batched IdentityStore call:
 * those stored are duplicates, the others stay Live ("verified new": a false positive, or a replay after a
 * crash between setting the bits and committing the rows). Everything the filter calls new stays Live, and
 * PostgreSQL's unique key (ON CONFLICT DO NOTHING) remains the final word, so a stale or lost filter costs
 * throughput, never correctness.
 *
 * `onMaybeSeen: "drop"` skips step 3 and drops on the filter's word: it loses real events at the filter's
 * false-positive rate, and events replayed after a crash between setting the bits and the commit.
 */
import type Redis from "ioredis";
import type { Logger } from "pino";
import type { Batch, EnrichedEvents } from "../batch.ts";
import { isIdentityStore, type IdentityStore, type ProbeUser, type Stage, type StageContext, type StageHealth } from "../stage.ts";
import type { DedupeStageConfig } from "./config.ts";
import { DedupeError, isRetriable } from "../../errors/index.ts";
import type { BloomBackend, FilterRequest, FilterStats } from "./backend.ts";
import { bloomLayout, type BloomLayout } from "./bloom-math.ts";
import { dropInBatchDuplicates } from "./in-batch.ts";
import { Limiter } from "./limiter.ts";
import { MemoryBackend } from "./memory-backend.ts";
import { DedupeMetrics } from "./metrics.ts";
import { openRedisBackend } from "./open-backend.ts";
import { resolveOptions, type DedupeStageOptions, type ResolvedDedupeOptions } from "./options.ts";
import { packProbes } from "./probes.ts";
import { closeRedis, createRedis } from "./redis-connection.ts";
import { filterCapacity } from "./sizing.ts";
import { scopeOf, windowOf } from "./windows.ts";

// Per-event filter answers remembered across retries of one batch (see `answers`).
const UNKNOWN = 0;
const NEW = 1;
const MAYBE = 2;

/** The request's probes for a backend that does not use them. */
const NO_PROBES = { probes: new Uint32Array(0), stride: 0 };

/** How many recently used scopes are remembered for stats sampling. */
const MAX_TRACKED_SCOPES = 4096;

/** The dedupe stage (see the module comment). Created by `createDedupeStage`. */
export class DedupeStage implements Stage, ProbeUser {
  readonly kind = "dedupe";
  readonly name: string;
  readonly layout: BloomLayout;
  private readonly o: ResolvedDedupeOptions;
  private readonly limiter: Limiter;
  private logger: Logger | null = null;
  private metrics: DedupeMetrics | null = null;
  private identity: IdentityStore | null = null;
  private redis: Redis | null = null;
  private backend: BloomBackend | null = null;
  private opening: Promise<BloomBackend> | null = null;
  /**
   * The filter's answer per event of a batch, kept while the engine may retry the batch: a retry must not ask
   * the filter again, because the first attempt already set the bits and every event would come back "maybe
   * seen" (harmless with verify, a loss with drop).
   */
  private readonly answers = new WeakMap<Batch, Uint8Array>();
  /** Scopes used recently (insertion order = recency), with the window they were last used in. */
  private readonly scopes = new Map<string, number>();
  private lastStatsAt = -Infinity;
  private sampling: Promise<unknown> | null = null;
  private lastWarnAt = -Infinity;
  private lastFullWarnAt = -Infinity;
  private warnedProbes = false;

  constructor(
    readonly cfg: DedupeStageConfig,
    options: DedupeStageOptions = {},
  ) {
    this.name = cfg.name || "dedupe";
    this.layout = validLayout(cfg);
    this.o = resolveOptions(options, cfg.windowMs);
    this.limiter = new Limiter(this.o.maxInFlight);
  }

  /** The filter in use: "memory", "bitmap", "bloom", or null while Redis has not been reached yet. */
  get backendKind(): BloomBackend["kind"] | null {
    return this.backend?.kind ?? null;
  }

  /** False on RedisBloom, which hashes the keys itself; true until a filter is open (it may be the bitmap). */
  probesWanted(): boolean {
    return this.backend?.needsProbes ?? true;
  }

  async start(ctx: StageContext): Promise<void> {
    this.logger = ctx.logger.child({ stage: this.name });
    this.metrics = new DedupeMetrics(ctx.metrics, this.name);
    if (this.cfg.onMaybeSeen === "verify") this.identity = findIdentityStore(ctx.stages, this);
    if (this.cfg.backend === "memory") {
      this.backend = new MemoryBackend(this.layout);
      return;
    }
    this.redis = createRedis(this.cfg.redisUrl, this.o, (err) => this.logger?.debug({ err: err.message }, "redis connection error"));
    try {
      await this.openBackend();
    } catch (err) {
      if (this.passesThrough(err)) {
        this.warnPassthrough(err, 0);
        return;
      }
      // Stop the background reconnects of a stage that failed to start; a new start() opens a new client.
      await closeRedis(this.redis);
      this.redis = null;
      throw err;
    }
  }

  async process(batch: Batch): Promise<void> {
    const events = batch.events;
    if (!events) {
      throw new DedupeError("DEDUPE_CONFIG", `dedupe stage ${this.name}: batch ${batch.id} has no enriched events (dedupe must run after enrich)`, {
        retriable: false,
      });
    }
    const metrics = this.metrics!;
    const { firsts, duplicates } = dropInBatchDuplicates(batch, events.dedupeKey, events.probes, events.probesPerKey);
    metrics.duplicates("in_batch", duplicates);
    if (firsts.length === 0) return;

    let answers = this.answers.get(batch);
    if (!answers) {
      answers = new Uint8Array(batch.size);
      this.answers.set(batch, answers);
    }
    const ask = firsts.filter((i) => answers[i] === UNKNOWN);
    if (ask.length > 0) {
      const nowMs = this.o.now();
      const result = await this.testAndSet(batch, ask, nowMs);
      if (result) {
        let maybe = 0;
        for (let j = 0; j < ask.length; j++) {
          answers[ask[j]] = result[j] ? MAYBE : NEW;
          maybe += result[j];
        }
        metrics.maybeSeen(maybe);
      }
      this.sampleStatsWhenDue(nowMs);
    }

    const maybe = firsts.filter((i) => answers[i] === MAYBE);
    if (maybe.length === 0) return;
    if (this.cfg.onMaybeSeen === "drop") {
      for (const i of maybe) batch.markDuplicate(i);
      metrics.duplicates("filter", maybe.length);
      return;
    }
    const stored = await this.verify(batch, maybe);
    for (const i of maybe) if (stored.has(i)) batch.markDuplicate(i);
    metrics.duplicates("verified", stored.size);
    metrics.verifiedNew(maybe.length - stored.size);
  }

  async health(): Promise<StageHealth> {
    if (this.cfg.backend === "memory") return { ok: true, detail: "memory filter" };
    try {
      const backend = await this.openBackend();
      await backend.ping();
      return { ok: true, detail: `redis ${backend.kind} filter` };
    } catch (err) {
      const e = err instanceof DedupeError ? err : null;
      return { ok: false, detail: e ? `${e.code}: ${e.message}` : String(err) };
    }
  }

  async close(): Promise<void> {
    if (this.sampling) await this.sampling;
    await this.backend?.close();
    this.backend = null;
    if (this.redis) await closeRedis(this.redis);
    this.redis = null;
  }

  /**
   * Samples the fill of the current window's filters (BITCOUNT, BF.INFO, or the in-process count) for the
   * most recently used scopes and publishes the gauges. Runs on its own every `statsIntervalMs`.
   */
  async sampleStats(nowMs: number = this.o.now()): Promise<FilterStats | null> {
    const backend = this.backend;
    if (!backend) return null;
    const window = windowOf(nowMs, this.cfg.windowMs);
    const recent = [...this.scopes].filter(([, w]) => w === window).map(([s]) => s);
    const scopes = recent.slice(-this.o.statsMaxFilters);
    if (scopes.length === 0) return null;
    const stats = await backend.stats(window, scopes);
    this.metrics?.filterStats(stats);
    return stats;
  }

  /** Test-and-set of the asked events; null when Redis is down and `onRedisDown` is "passthrough". */
  private async testAndSet(batch: Batch, ask: number[], nowMs: number): Promise<Uint8Array | null> {
    const events = batch.events!;
    const window = windowOf(nowMs, this.cfg.windowMs);
    const dedupeKey = events.dedupeKey;
    const keys = ask.map((i) => dedupeKey[i]);
    // Shared filters: one scope for all, and the tenant column is never read (nor unpacked).
    let scopes: string[];
    if (this.cfg.perTenant) {
      const tenant = events.tenant;
      scopes = ask.map((i) => scopeOf(tenant[i], this.cfg.tenantFilters));
    } else scopes = new Array<string>(ask.length).fill(scopeOf(null, null));
    for (const s of new Set(scopes)) {
      this.scopes.delete(s);
      this.scopes.set(s, window);
    }
    for (const oldest of this.scopes.keys()) {
      if (this.scopes.size <= MAX_TRACKED_SCOPES) break;
      this.scopes.delete(oldest);
    }
    try {
      const backend = await this.openBackend();
      // RedisBloom hashes the keys itself: copying (or recomputing) probes for it would be wasted work.
      const { probes, stride } = backend.needsProbes ? this.probesOf(events, ask) : NO_PROBES;
      const req: FilterRequest = { window, keys, scopes, probes, stride, nowMs };
      return await backend.testAndSet(req);
    } catch (err) {
      if (!this.passesThrough(err)) throw err;
      this.metrics!.passthrough(ask.length);
      this.warnPassthrough(err, ask.length);
      return null;
    }
  }

  /** The packed probes of the asked events; warns once when the enrich stage's could not be used. */
  private probesOf(events: EnrichedEvents, ask: readonly number[]): { probes: Uint32Array; stride: number } {
    const packed = packProbes(events, ask, this.layout);
    if (packed.recomputed && !this.warnedProbes) {
      this.warnedProbes = true;
      this.logger?.warn({ probesPerKey: events.probesPerKey, k: this.layout.k }, "enrich probes do not match this stage's filter layout; computing them here");
    }
    return packed;
  }

  /** One batched IdentityStore call for every maybe-seen event. */
  private async verify(batch: Batch, maybe: number[]): Promise<Set<number>> {
    try {
      return await this.identity!.existing(batch, maybe);
    } catch (err) {
      throw new DedupeError(
        "DEDUPE_VERIFY_FAILED",
        `dedupe stage ${this.name}: verifying ${maybe.length} maybe-seen events failed: ${err instanceof Error ? err.message : String(err)}`,
        { retriable: isRetriable(err), cause: err, context: { events: maybe.length } },
      );
    }
  }

  /** The backend, connecting to Redis first if needed (one attempt shared by concurrent batches). */
  private openBackend(): Promise<BloomBackend> {
    if (this.backend) return Promise.resolve(this.backend);
    if (!this.redis) {
      return Promise.reject(new DedupeError("DEDUPE_CONFIG", `dedupe stage ${this.name} used before start()`, { retriable: false }));
    }
    this.opening ??= openRedisBackend(this.redis, this.cfg, this.layout, this.o, this.limiter, (keys) => this.warnFull(keys))
      .then((backend) => {
        this.backend = backend;
        this.logger?.info({ filter: backend.kind, layout: this.layout }, "dedupe filter ready");
        return backend;
      })
      .finally(() => {
        this.opening = null;
      });
    return this.opening;
  }

  private passesThrough(err: unknown): err is DedupeError {
    return this.cfg.onRedisDown === "passthrough" && err instanceof DedupeError && err.code === "DEDUPE_REDIS_UNAVAILABLE";
  }

  private warnPassthrough(err: DedupeError, events: number): void {
    const now = performance.now();
    if (now - this.lastWarnAt < this.o.warnIntervalMs) return;
    this.lastWarnAt = now;
    this.logger?.warn({ code: err.code, reason: err.message, events }, "redis unavailable: events pass unchecked (onRedisDown: passthrough); PostgreSQL's unique key still drops duplicates");
  }

  /** A BF.* filter reached its growth bound (see bloom-backend.ts); rate-limited like the passthrough warning. */
  private warnFull(keys: number): void {
    const now = performance.now();
    if (now - this.lastFullWarnAt < this.o.warnIntervalMs) return;
    this.lastFullWarnAt = now;
    const answered = this.cfg.onMaybeSeen === "verify" ? "maybe seen (verified in PostgreSQL)" : "new (PostgreSQL's unique key drops duplicates)";
    this.logger?.warn({ keys, maxFilters: this.cfg.bloom.maxFilters, nonScaling: this.cfg.bloom.nonScaling }, `dedupe filter is full (growth bound reached): keys are not added and are answered ${answered}; raise expectedPerWindow`);
  }

  private sampleStatsWhenDue(nowMs: number): void {
    if (this.sampling || nowMs - this.lastStatsAt < this.o.statsIntervalMs) return;
    this.lastStatsAt = nowMs;
    this.sampling = this.sampleStats(nowMs)
      .catch((err) => this.logger?.warn({ err: err instanceof Error ? err.message : String(err) }, "dedupe filter stats sampling failed"))
      .finally(() => {
        this.sampling = null;
      });
  }
}

/** The layout for the config, or a fatal DEDUPE_CONFIG naming what is wrong. */
function validLayout(cfg: DedupeStageConfig): BloomLayout {
  const bad = (msg: string) => new DedupeError("DEDUPE_CONFIG", `dedupe stage ${cfg.name}: ${msg}`, { retriable: false });
  if (!(cfg.windowMs > 0)) throw bad(`windowMs must be > 0, got ${cfg.windowMs}`);
  if (!cfg.prefix) throw bad("prefix must not be empty");
  if (!cfg.keyFields?.length) throw bad("keyFields must name at least one attribute");
  try {
    return bloomLayout(filterCapacity(cfg), cfg.falsePositiveRate);
  } catch (err) {
    throw bad(err instanceof Error ? err.message : String(err));
  }
}

/** The first IdentityStore after `self` in the pipeline (or anywhere else in it, if `self` is not listed). */
function findIdentityStore(stages: readonly Stage[], self: Stage): IdentityStore {
  const at = stages.indexOf(self);
  const store = (at >= 0 ? stages.slice(at + 1) : stages.filter((s) => s !== self)).find((s): s is Stage & IdentityStore => isIdentityStore(s));
  if (!store) {
    throw new DedupeError(
      "DEDUPE_CONFIG",
      `dedupe stage ${self.name}: onMaybeSeen "verify" needs a persist stage after it (an IdentityStore) to verify maybe-seen events`,
      { retriable: false },
    );
  }
  return store;
}
