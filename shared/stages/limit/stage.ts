/**
 * The limit stage: per-tenant rate limits and quotas shared by every worker of the fleet (script.ts holds the
 * algorithm). One script call per batch decides all its tenants; then, per the topology's `onLimit`:
 * - `delay`: over-rate events whose reserved slot comes within `maxDelay` are Held (EventStatus.Held) and the rest
 *   of the batch goes on at once; the engine waits for `released` and runs the later stages for them. The batch
 *   (and so its offsets) completes only after its held events, so commits never pass an unprocessed event; other
 *   batches, and other tenants' events of the same batch, keep moving. On revocation or shutdown a batch still
 *   holding events is abandoned uncommitted and its events are re-delivered (their reserved slots are lost).
 *   Events later than `maxDelay` are dead-lettered TENANT_DELAY_TOO_LONG; over-quota ones TENANT_QUOTA_EXCEEDED.
 * - `dead-letter`: over-rate events are dead-lettered TENANT_RATE_LIMITED, over-quota ones TENANT_QUOTA_EXCEEDED.
 * - `pass`: they go on, counted as `passed_over`.
 * Redis unreachable: `onRedisDown: fail` throws a retriable LimitError (the engine pauses and retries);
 * `passthrough` lets the events through unlimited, counted as `passthrough`.
 */
import type Redis from "ioredis";
import type { Logger } from "pino";
import { DedupeError, LimitError, type LimitErrorCode } from "../../errors/index.ts";
import type { LimitStageConfig } from "./config.ts";
import { EventStatus, type Batch } from "../batch.ts";
import { closeRedis, connectRedis, createRedis, PASSTHROUGH_WARN_INTERVAL_MS, REDIS_TIMEOUTS, redisError } from "../dedupe/redis-connection.ts";
import type { HoldingStage, StageContext, StageHealth } from "../stage.ts";
import { HeldEvents } from "./held-events.ts";
import { LimitMetrics } from "./metrics.ts";
import { defineLimitScript, runLimitScript, type TenantRequest } from "./script.ts";
import { NO_TENANT, TenantLimits } from "./tenant-limits.ts";

/** Stable rejection codes of the limit stage (the `topofleet-code` header of the dead letter). */
export const LIMIT_CODES = {
  rateLimited: "TENANT_RATE_LIMITED",
  quotaExceeded: "TENANT_QUOTA_EXCEEDED",
  delayTooLong: "TENANT_DELAY_TOO_LONG",
} as const;

/** Optional knobs of the limit stage (tests). */
export interface LimitStageOptions {
  /** Overrides Redis's clock in the script (epoch ms); default: Redis TIME. */
  redisNow?: () => number;
  /** Local clock for held events (epoch ms). */
  now?: () => number;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  maxReconnectDelayMs?: number;
  /** Minimum gap between two "Redis is down, passing events through" warnings. */
  warnIntervalMs?: number;
}

/** Maps a Redis failure (the dedupe stage's classification, shared) to the limit stage's codes. */
function limitRedisError(err: unknown, op: string, redis: Redis): LimitError {
  const e: DedupeError = redisError(err, op, redis);
  const code = e.code.replace(/^DEDUPE_/, "LIMIT_") as LimitErrorCode;
  return new LimitError(code, e.message.replace("dedupe redis url", "limit redis url"), { retriable: e.retriable, cause: err, context: e.context });
}

/** The limit stage (see the module comment). */
export class LimitStage implements HoldingStage {
  readonly kind = "limit";
  readonly name: string;
  readonly holdBounds: { events: number; batches: number };
  private readonly limits: TenantLimits;
  private readonly held = new WeakMap<Batch, HeldEvents>();
  private heldTotal = 0;
  private redis: Redis | null = null;
  private metrics: LimitMetrics | null = null;
  private logger: Logger | null = null;
  private lastWarnAt = -Infinity;

  constructor(
    readonly cfg: LimitStageConfig,
    private readonly o: LimitStageOptions = {},
  ) {
    this.name = cfg.name || "limit";
    this.limits = new TenantLimits(cfg);
    this.holdBounds = { events: cfg.maxHeldEvents, batches: cfg.maxHeldBatches };
  }

  async start(ctx: StageContext): Promise<void> {
    this.logger = ctx.logger.child({ stage: this.name });
    this.metrics = new LimitMetrics(ctx.metrics, this.name, this.cfg.metricsTopTenants);
    await this.limits.load(this.logger);
    const redis = createRedis(
      this.cfg.redisUrl,
      {
        connectTimeoutMs: this.o.connectTimeoutMs ?? REDIS_TIMEOUTS.connectTimeoutMs,
        commandTimeoutMs: this.o.commandTimeoutMs ?? REDIS_TIMEOUTS.commandTimeoutMs,
        maxReconnectDelayMs: this.o.maxReconnectDelayMs ?? REDIS_TIMEOUTS.maxReconnectDelayMs,
      },
      (err) => this.logger?.debug({ err: err.message }, "redis connection error"),
    );
    defineLimitScript(redis);
    this.redis = redis;
    try {
      await connectRedis(redis);
    } catch (err) {
      const e = limitRedisError(err, "connect", redis);
      if (e.retriable && this.cfg.onRedisDown === "passthrough") {
        this.warnPassthrough(e, 0);
        return;
      }
      this.redis = null;
      await closeRedis(redis);
      await this.limits.close();
      throw e;
    }
  }

  async process(batch: Batch): Promise<void> {
    const tenants = batch.events?.tenant;
    if (!tenants) {
      throw new LimitError("LIMIT_CONFIG", `limit stage ${this.name}: batch ${batch.id} has no enriched events (limit must run after enrich)`, { retriable: false });
    }
    const groups = new Map<string, number[]>();
    for (const i of batch.liveIndexes()) {
      const t = tenants[i] ?? NO_TENANT;
      const g = groups.get(t);
      if (g) g.push(i);
      else groups.set(t, [i]);
    }
    if (groups.size === 0) return;
    const delay = this.cfg.onLimit === "delay";
    const requests: TenantRequest[] = [];
    for (const [tenant, idx] of groups) requests.push(this.limits.request(tenant, idx.length, delay ? this.cfg.maxDelayMs : -1));

    const metrics = this.metrics!;
    let verdicts;
    try {
      if (!this.redis) throw new LimitError("LIMIT_REDIS_UNAVAILABLE", "redis connection not open", { retriable: true });
      verdicts = await runLimitScript(this.redis, this.cfg.prefix, requests, this.o.redisNow?.() ?? -1);
      metrics.call(true);
    } catch (err) {
      metrics.call(false);
      const e = err instanceof LimitError ? err : limitRedisError(err, "limit script", this.redis!);
      if (e.retriable && this.cfg.onRedisDown === "passthrough") {
        for (const [tenant, idx] of groups) metrics.count(tenant, "passthrough", idx.length);
        this.warnPassthrough(e, batch.liveIndexes().length);
        return;
      }
      throw e;
    }

    const now = (this.o.now ?? Date.now)();
    const holds: Array<[number, number]> = [];
    let j = 0;
    for (const [tenant, idx] of groups) {
      const v = verdicts[j];
      const req = requests[j++];
      let k = v.now;
      metrics.count(tenant, "admitted", v.now);
      for (let d = 0; d < v.delayed; d++) {
        const i = idx[k++];
        batch.hold(i);
        holds.push([now + v.firstWaitMs + d * req.intervalMs, i]);
      }
      metrics.count(tenant, "delayed", v.delayed);
      const overRate = idx.slice(k, k + v.overRate);
      const overQuota = idx.slice(k + v.overRate);
      this.over(batch, tenant, overRate, delay ? "delay_too_long" : "rate_limited", req);
      this.over(batch, tenant, overQuota, "quota_exceeded", req);
    }
    if (holds.length > 0) {
      let h = this.held.get(batch);
      if (!h) this.held.set(batch, (h = new HeldEvents()));
      h.add(holds);
      this.heldTotal += holds.length;
      metrics.held(this.heldTotal);
    }
  }

  /** Resolves when some held events of `batch` are Live again (see HoldingStage). */
  async released(batch: Batch, signal: AbortSignal): Promise<void> {
    const h = this.held.get(batch);
    if (!h) {
      // Held events this stage does not know of would never be released: fail loudly rather than spin.
      if (batch.count(EventStatus.Held) > 0) {
        throw new LimitError("LIMIT_CONFIG", `limit stage ${this.name}: batch ${batch.id} has held events this stage did not hold`, { retriable: false });
      }
      return;
    }
    let n = 0;
    try {
      n = await h.release(batch, signal, this.o.now ?? Date.now);
    } catch (err) {
      // Abandoned: none of them will be processed here; the next owner re-reads them.
      this.heldTotal -= h.size;
      this.held.delete(batch);
      this.metrics?.held(this.heldTotal);
      throw err;
    }
    this.heldTotal -= n;
    if (h.size === 0) this.held.delete(batch);
    this.metrics?.held(this.heldTotal);
  }

  async health(): Promise<StageHealth> {
    if (this.redis?.status === "ready") return { ok: true };
    if (this.cfg.onRedisDown === "passthrough") return { ok: true, detail: "redis unreachable: events pass unlimited (onRedisDown: passthrough)" };
    return { ok: false, detail: `redis ${this.redis?.status ?? "not connected"}` };
  }

  async close(): Promise<void> {
    const redis = this.redis;
    this.redis = null;
    await this.limits.close();
    if (redis) await closeRedis(redis);
  }

  /** Reloads the tenantsQuery overrides now (the stage does it every `refresh`); for tests and operators. */
  reloadTenants(): Promise<void> {
    return this.limits.reload();
  }

  /** Applies the policy to events over the rate or the quota. */
  private over(batch: Batch, tenant: string, idx: number[], outcome: "rate_limited" | "delay_too_long" | "quota_exceeded", req: TenantRequest): void {
    if (idx.length === 0) return;
    if (this.cfg.onLimit === "pass") {
      this.metrics!.count(tenant, "passed_over", idx.length);
      return;
    }
    this.metrics!.count(tenant, outcome, idx.length);
    const code = outcome === "quota_exceeded" ? LIMIT_CODES.quotaExceeded : outcome === "delay_too_long" ? LIMIT_CODES.delayTooLong : LIMIT_CODES.rateLimited;
    const what =
      outcome === "quota_exceeded"
        ? `over its quota of ${req.quota} events per ${req.quotaWindowMs} ms`
        : outcome === "delay_too_long"
          ? `over its rate of one event per ${req.intervalMs.toFixed(3)} ms by more than maxDelay ${this.cfg.maxDelayMs} ms`
          : `over its rate of one event per ${req.intervalMs.toFixed(3)} ms`;
    const reason = `tenant ${JSON.stringify(tenant.slice(0, 200))} is ${what}`;
    for (const i of idx) batch.reject(i, { stage: this.name, code, reason });
  }

  private warnPassthrough(err: LimitError, events: number): void {
    const now = Date.now();
    if (now - this.lastWarnAt < (this.o.warnIntervalMs ?? PASSTHROUGH_WARN_INTERVAL_MS)) return;
    this.lastWarnAt = now;
    this.logger?.warn({ code: err.code, events, err: err.message }, "redis unreachable: passing events through without tenant limits (onRedisDown: passthrough)");
  }
}
