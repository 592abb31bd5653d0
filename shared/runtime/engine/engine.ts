/**
 * The per-worker pipeline engine: consume → pack → stages → dead letters → commit, with up to
 * `concurrency.inFlightBatches` batches in flight.
 *
 * Commit ordering (the reason this module exists): a batch's offsets are committed only after its last
 * stage succeeded AND its dead letters were acknowledged, and only as the end of the contiguous prefix of
 * delivered offsets that are all done (OffsetTracker), because batches finish out of order. Commits are
 * asynchronous and coalesced while running, synchronous on revocation and shutdown, and never issued for a
 * partition this worker no longer owns: a revocation awaits the outstanding async commit, commits the
 * revoked partitions synchronously and only then lets the binding complete the revocation (rebalance-handler.ts).
 */
import type { Logger } from "pino";
import { Consumer, KafkaError, Producer } from "../../kafka/index.ts";
import type { RebalanceEvent, TopicPartition } from "../../kafka/types.ts";
import { Batch, type RecordBatch } from "../../stages/batch.ts";
import { needsOf } from "../../stages/registry.ts";
import { isHoldingStage, type Stage, type StageContext, type StageHealth } from "../../stages/stage.ts";
import { loadTracing, type PipelineTracing } from "../../tracing/api.ts";
import type { Metrics } from "../../telemetry/metrics.ts";
import type { ResolvedTopology } from "../../topology/types.ts";
import type { WorkerProgress } from "../ipc.ts";
import { FATAL_CONSUMER_STOP_MS, HEALTH_TIMEOUT_MS, LAG_INTERVAL_MS, LOSS_NOT_READY_MS, SHUTDOWN_RESERVE_MAX_MS, SHUTDOWN_RESERVE_SHARE } from "./budgets.ts";
import { BatchFetcher } from "./batch-fetcher.ts";
import { runPipeline, type PipelineDeps } from "./batch-pipeline.ts";
import { groupByPartition, selectPartitions, tallyOf } from "./batch-segments.ts";
import { Committer, type CommitHooks } from "./committer.ts";
import { EngineMetrics } from "./engine-metrics.ts";
import { errorJson } from "./error-json.ts";
import type { FaultPoints } from "./fault-points.ts";
import { InFlightBatches, type BatchSegment, type InFlightBatch } from "./in-flight.ts";
import { consumerConfig, deadLetterLimit, deadLetterProducerConfig } from "./kafka-config.ts";
import { JUMP_CODES, OffsetJumpDetector, type OffsetJump } from "./offset-jumps.ts";
import { OffsetTracker } from "./offset-tracker.ts";
import { PartitionLedger } from "./partition-ledger.ts";
import { ALL_PARTITIONS, PauseController } from "./pause-controller.ts";
import { RebalanceHandler } from "./rebalance-handler.ts";
import { startStageWithRetry } from "./stage-start.ts";
import { within } from "../../timing/sleep.ts";

/** Everything an engine needs; the topology must already carry the launch overrides (applyLaunchOverrides). */
export interface EngineOptions {
  topology: ResolvedTopology;
  workerId: number;
  /** Bootstrap servers of the source (sourceBrokers()). */
  brokers: string;
  /** Stages in pipeline order, not started yet (createStages()). The engine starts and closes them. */
  stages: Stage[];
  logger: Logger;
  metrics: Metrics;
  dataDir: string;
  /** How often to refresh the consumer-lag gauges; default LAG_INTERVAL_MS. */
  lagIntervalMs?: number;
  /** Observation hooks (audit logs, tests); called synchronously, must not throw. */
  hooks?: EngineHooks;
  /** Crash points for the fault-injection suite (worker-main reads them from TOPOFLEET_FAULT); none by default. */
  faults?: FaultPoints | null;
  /** How long the in-flight limit must stay reached before every partition is paused; default BACKPRESSURE_PAUSE_AFTER_MS. */
  backpressurePauseAfterMs?: number;
}

/** Points where an observer can watch the engine's ownership and commit decisions. */
export interface EngineHooks extends CommitHooks {
  /** An assignment was applied, or a revocation finished (after its final commit). */
  rebalanced?(e: RebalanceEvent): void;
  /** The committed positions and tallies of newly assigned partitions are known (progress() has them). */
  positionsRead?(partitions: TopicPartition[]): void;
}

/** Readiness of a worker, as /readyz and the supervisor see it. */
export interface Readiness {
  ready: boolean;
  detail?: string;
}

type State = "new" | "starting" | "running" | "stopping" | "stopped";

const BACKPRESSURE = "backpressure";
const STOPPING = "stopping";

/**
 * A full pipeline pauses the source only after this long. Pausing makes librdkafka drop what it prefetched,
 * to fetch it again on resume, and at saturation the limit is reached and left once per batch: paused at
 * once, every byte crossed the wire about twice (dev/bench/PROFILE.md, "Prefetched data fetched again after
 * every pause"). Fetching ahead is bounded without a pause (the binding's buffer, queued.max.messages.kbytes),
 * so a short block needs none. A long one does: a worker that stops polling serves no rebalance and, after
 * max.poll.interval.ms, is put out of the group; paused, it keeps polling and takes nothing. Two seconds is
 * longer than a batch at saturation (~1 s) and adds at most that to a rebalance while the pipeline is stuck.
 */
export const BACKPRESSURE_PAUSE_AFTER_MS = 2_000;

/** Options of Engine.stop. */
export interface StopOptions {
  /**
   * Awaited after the final commit and before leaving the group (bounded by the deadline): a coordinated
   * fleet drain uses it to keep every member in the group until all of them have committed.
   */
  beforeLeave?: () => Promise<void>;
}

/** One worker's pipeline engine. */
export class Engine {
  private readonly t: ResolvedTopology;
  private readonly log: Logger;
  private readonly m: EngineMetrics;
  private readonly tracker = new OffsetTracker();
  private readonly ledger = new PartitionLedger();
  private readonly jumps: OffsetJumpDetector;
  /** Offset jumps found so far (the progress counters) and the last deletion, for readiness. */
  private readonly jumpTotals = { deletedBeforeRead: 0, resetBackward: 0, reread: 0 };
  private lastDeletion: { at: number; jump: OffsetJump } | null = null;
  private readonly inFlight: InFlightBatches;
  private readonly committer: Committer;
  /** Partition ownership across rebalances (rebalance-handler.ts). */
  private readonly rebalance: RebalanceHandler;
  /** Batches whose dead letters the broker refuses even as references, by batch id: their partitions are stopped. */
  private readonly stuckDeadLetters = new Map<number, string>();
  /** Crash points for the fault-injection suite; null (inert) unless the options carry them. */
  private readonly faults: FaultPoints | null;
  private consumer: Consumer | null = null;
  private producer: Producer | null = null;
  private pauses: PauseController | null = null;
  private fetcher: BatchFetcher | null = null;
  private state: State = "new";
  private startedStages: Stage[] = [];
  private fatalError: unknown = null;
  private pumpDone: Promise<void> = Promise.resolve();
  private lagTimer: ReturnType<typeof setInterval> | null = null;
  private backpressureTimer: ReturnType<typeof setTimeout> | null = null;
  private stopping: Promise<WorkerProgress> | null = null;
  private stopDeadline = Infinity;
  /** Aborted by cancelStart(): a stage waiting for its dependencies gives up (StartCancelled). */
  private readonly startAbort = new AbortController();
  private lag = -1;
  /** Batch spans; null when the topology does not enable tracing (the SDK is then never loaded). */
  private tracing: PipelineTracing | null = null;
  /** Bounds of held events and held batches (limit stage, `delay`); null without a holding stage. */
  private readonly holdBounds: { events: number; batches: number } | null;
  private resolveFinished!: (p: WorkerProgress) => void;
  private rejectFinished!: (err: unknown) => void;
  /** Settles when the engine stopped: resolves with the final progress, or rejects with the fatal error. */
  readonly finished: Promise<WorkerProgress>;

  constructor(private readonly opts: EngineOptions) {
    this.t = opts.topology;
    this.log = opts.logger;
    this.faults = opts.faults ?? null;
    this.m = new EngineMetrics(opts.metrics);
    this.inFlight = new InFlightBatches(Math.max(1, this.t.concurrency.inFlightBatches));
    this.holdBounds = opts.stages.find(isHoldingStage)?.holdBounds ?? null;
    const commitHooks: CommitHooks = {
      commitIssued: (offsets, sync) => {
        opts.hooks?.commitIssued?.(offsets, sync);
        this.tracing?.commitIssued(offsets, sync);
      },
      commitSettled: (offsets, sync, error) => {
        opts.hooks?.commitSettled?.(offsets, sync, error);
        this.tracing?.commitSettled(offsets, sync, error);
      },
    };
    this.committer = new Committer(this.tracker, () => this.consumer, this.m, this.log, commitHooks, this.ledger, this.t.retry.commit);
    this.jumps = new OffsetJumpDetector({
      lowWatermark: async (tp) => {
        if (!this.consumer) throw new Error("consumer closed");
        return (await this.consumer.watermarks(tp.topic, tp.partition)).low;
      },
      report: (j) => this.onJump(j),
      reread: (_tp, n) => {
        this.jumpTotals.reread += n;
        this.m.rereadEvents.inc({}, n);
      },
      queryFailed: (tp, err) => this.log.warn({ ...tp, err: errorJson(err) }, "low watermark query failed; retrying to classify an offset gap"),
    });
    this.rebalance = new RebalanceHandler({
      tracker: this.tracker,
      ledger: this.ledger,
      jumps: this.jumps,
      committer: this.committer,
      inFlight: this.inFlight,
      metrics: this.m,
      log: this.log,
      sessionTimeoutMs: this.t.source.membership.sessionTimeoutMs,
      consumer: () => this.consumer,
      fetcher: () => this.fetcher,
      pauses: () => this.pauses,
      revocationBudget: () => this.revocationBudget(),
      stopped: () => this.state === "stopped",
      abandon: (entry, why) => this.abandon(entry, why),
      positionsRead: (tps) => opts.hooks?.positionsRead?.(tps),
      rebalanced: (e) => opts.hooks?.rebalanced?.(e),
    });
    this.finished = new Promise((resolve, reject) => {
      this.resolveFinished = resolve;
      this.rejectFinished = reject;
    });
    // A worker that never awaits `finished` must not crash on an unhandled rejection.
    this.finished.catch(() => {});
  }

  /** Starts the stages, the dead-letter producer and the consumer, then the consume loop. */
  async start(): Promise<void> {
    if (this.state !== "new") throw new Error(`engine.start() called in state ${this.state}`);
    this.state = "starting";
    const { topology: t, workerId, brokers } = this.opts;
    try {
      this.tracing = await loadTracing(t, workerId, this.opts.metrics, this.log);
      for (const stage of this.opts.stages) {
        const ctx: StageContext = {
          topology: t,
          workerId,
          logger: this.log.child({ stage: stage.name }),
          metrics: this.opts.metrics,
          dataDir: this.opts.dataDir,
          stages: this.opts.stages,
          needsOf,
        };
        await startStageWithRetry(stage, ctx, { log: this.log, signal: this.startAbort.signal, backoff: t.retry.backoff });
        this.startedStages.push(stage);
      }
      this.producer = new Producer({
        config: deadLetterProducerConfig(t, workerId, brokers),
        onError: (err) => this.log.warn({ err: errorJson(err) }, "dead-letter producer error"),
      });
      const consumer = new Consumer({
        config: consumerConfig(t, workerId, brokers),
        onRebalance: (e) => this.rebalance.onRebalance(e),
        onError: (err) => this.log.warn({ err: errorJson(err) }, "consumer error"),
      });
      this.consumer = consumer;
      this.pauses = new PauseController(consumer, (n) => this.m.partitionsPaused.set({}, n));
      this.fetcher = new BatchFetcher(consumer, t.batch, (topic, partition) => this.rebalance.admit(topic, partition));
      consumer.subscribe(t.source.topics);
    } catch (err) {
      await this.closeResources(Date.now() + t.shutdown.deadlineMs);
      this.state = "stopped";
      this.rejectFinished(err);
      throw err;
    }
    this.state = "running";
    this.pumpDone = this.pump();
    const every = this.opts.lagIntervalMs ?? LAG_INTERVAL_MS;
    this.lagTimer = setInterval(() => void this.refreshLag(), every);
    this.log.info({ topics: t.source.topics, group: t.source.group, inFlightBatches: this.inFlight.limit }, "engine started");
  }

  /** Gives up a start still waiting for a stage's dependencies; start() then rejects with StartCancelled. */
  cancelStart(): void {
    this.startAbort.abort();
  }

  /** Cumulative counts of committed events, the last known total lag, and each owned partition's committed tallies. */
  progress(): WorkerProgress {
    return { ...this.committer.totals, lag: this.lag, partitions: this.ledger.report(), ...this.jumpTotals };
  }

  /** Partitions currently owned (assigned and not being revoked). */
  assignment(): TopicPartition[] {
    return this.rebalance.assignment();
  }

  /** True once the engine received its first assignment from the group (possibly empty). */
  get hasJoined(): boolean {
    return this.rebalance.joined;
  }

  /**
   * Ready when running, a member of the group, and every stage's dependencies answer. A member with an
   * empty assignment is ready but idle: the group has more members than partitions, and this member is a
   * hot standby that takes over partitions at the next rebalance.
   */
  async readiness(): Promise<Readiness> {
    if (this.state !== "running") return { ready: false, detail: `engine ${this.state}` };
    if (!this.rebalance.joined) return { ready: false, detail: "joining the consumer group" };
    const stuck = this.stuckDeadLetters.values().next();
    if (!stuck.done) return { ready: false, detail: `partition stopped: ${stuck.value}` };
    for (const stage of this.startedStages) {
      const h = await within<StageHealth>(
        stage.health().catch((err) => ({ ok: false, detail: err instanceof Error ? err.message : String(err) })),
        HEALTH_TIMEOUT_MS,
        { ok: false, detail: `no answer within ${HEALTH_TIMEOUT_MS} ms` },
      );
      if (!h.ok) return { ready: false, detail: `stage ${stage.name}: ${h.detail ?? "unhealthy"}` };
    }
    const loss = this.lastDeletion;
    if (loss && Date.now() - loss.at < LOSS_NOT_READY_MS) {
      const { topic, partition, from, to } = loss.jump;
      return {
        ready: false,
        detail: `${JUMP_CODES.deleted_before_read}: the broker deleted offsets ${from}..${to - 1} of ${topic}[${partition}] before they were read (${this.jumpTotals.deletedBeforeRead} offsets lost so far)`,
      };
    }
    if (this.assignment().length === 0) return { ready: true, detail: "idle: no partitions assigned (more group members than partitions)" };
    return { ready: true };
  }

  /**
   * Stops within `deadlineMs`: stop consuming, let in-flight batches finish (abandoning, uncommitted, those
   * that cannot), commit synchronously, leave the group, flush the producer, close the stages.
   * Resolves with the final progress; calling it again returns the same promise.
   */
  stop(deadlineMs: number = this.t.shutdown.deadlineMs, opts: StopOptions = {}): Promise<WorkerProgress> {
    if (!this.stopping) this.stopping = this.shutdown(deadlineMs, opts);
    return this.stopping;
  }

  // ---- consume loop -------------------------------------------------------------------------------

  private async pump(): Promise<void> {
    const fetcher = this.fetcher!;
    try {
      while (this.state === "running") {
        if (this.blocked) {
          await this.inFlight.changed();
          continue;
        }
        const fetchStartedAt = Date.now();
        const records = await fetcher.next(() => this.state !== "running");
        // A batch fetched while stopping is dropped: it is after everything launched, never tracked, never committed.
        if (!records || this.state !== "running") continue;
        this.launch(records, fetchStartedAt);
      }
    } catch (err) {
      this.fail(err);
    }
  }

  /** No batch may start: the in-flight limit is reached, or held events / held batches are at their bounds. */
  private get blocked(): boolean {
    const b = this.holdBounds;
    return this.inFlight.full || (b !== null && (this.inFlight.heldEvents >= b.events || this.inFlight.heldBatches >= b.batches));
  }

  private launch(fetched: RecordBatch, fetchStartedAt: number): void {
    // Ownership can change while a consume call is awaited: keep only records of partitions still owned.
    const records = this.ownedOnly(fetched);
    if (!records) return;
    const batch = new Batch(records);
    const groups = groupByPartition(records);
    const segments: BatchSegment[] = [];
    for (const g of groups.values()) {
      if (this.jumps.observe(g.tp, g.offsets)) this.tracker.rewind(g.tp);
      segments.push({ handle: this.tracker.track(g.tp, g.offsets)!, indexes: g.indexes });
    }
    const entry: InFlightBatch = {
      batch,
      segments,
      partitions: new Set(groups.keys()),
      abort: new AbortController(),
      abandoned: false,
      settled: Promise.resolve(),
    };
    this.inFlight.add(entry);
    this.m.sourceEvents.inc({}, records.size);
    this.m.batchesInFlight.set({}, this.inFlight.size);
    this.backpressure();
    const deps: PipelineDeps = { ...this.pipelineDeps, fetchStartedAt: () => fetchStartedAt, onHeld: (_b, held) => this.held(entry, held) };
    entry.settled = runPipeline(batch, deps, entry.abort.signal).then(
      () => this.finishBatch(entry),
      (err) => this.batchFailed(entry, err),
    );
  }

  /**
   * The fetched records minus those of partitions no longer owned. The fetcher already drops them when a
   * revocation starts; this guard costs one lookup per partition and keeps a record of a revoked partition
   * from ever being tracked under a later assignment.
   */
  private ownedOnly(r: RecordBatch): RecordBatch | null {
    return selectPartitions(r, (key) => this.rebalance.owns(key));
  }

  private get pipelineDeps(): PipelineDeps {
    return {
      tracing: this.tracing,
      stages: this.opts.stages,
      metrics: this.m,
      logger: this.log,
      workerId: this.opts.workerId,
      deadLetterTopic: this.t.deadLetter.topic,
      deadLetterMaxBytes: deadLetterLimit(this.t),
      backoff: this.t.retry.backoff,
      produce: (records) => this.producer!.sendBatch(records),
      faults: this.faults,
      onDeadLetterStuck: (batch, problem) => {
        if (problem === null) this.stuckDeadLetters.delete(batch.id);
        else this.stuckDeadLetters.set(batch.id, problem);
      },
      onRetrying: (batch, on) => {
        const entry = this.inFlight.all().find((e) => e.batch === batch);
        if (!entry) return;
        const reason = `retry:${batch.id}`;
        if (on) this.pauses!.hold(reason, entry.segments.map((s) => ({ topic: s.handle.topic, partition: s.handle.partition })));
        else this.pauses!.release(reason);
      },
    };
  }

  /** A batch waits for its held events (held > 0) or runs released ones (0); held batches do not count against the in-flight limit. */
  private held(entry: InFlightBatch, held: number): void {
    this.inFlight.setHeld(entry, held);
    this.backpressure();
  }

  /** Pauses every partition once the engine has stayed blocked for the pause delay; resumes as soon as it is not. */
  private backpressure(): void {
    if (!this.blocked) {
      this.cancelBackpressurePause();
      this.pauses?.release(BACKPRESSURE);
      return;
    }
    // Stopping pauses everything itself (STOPPING).
    if (this.state !== "running" || this.backpressureTimer !== null || this.pauses?.holds(BACKPRESSURE)) return;
    const after = this.opts.backpressurePauseAfterMs ?? BACKPRESSURE_PAUSE_AFTER_MS;
    if (after <= 0) return this.pauseIfStillBlocked();
    this.backpressureTimer = setTimeout(() => {
      this.backpressureTimer = null;
      this.pauseIfStillBlocked();
    }, after);
    this.backpressureTimer.unref?.();
  }

  private pauseIfStillBlocked(): void {
    if (this.blocked && this.state === "running") this.pauses?.hold(BACKPRESSURE, ALL_PARTITIONS);
  }

  private cancelBackpressurePause(): void {
    if (this.backpressureTimer !== null) clearTimeout(this.backpressureTimer);
    this.backpressureTimer = null;
  }

  private finishBatch(entry: InFlightBatch): void {
    for (const seg of entry.segments) {
      // False when the partition was revoked meanwhile: that part of the batch is not ours to commit.
      this.tracker.complete(seg.handle, tallyOf(entry.batch.status, seg.indexes));
    }
    this.m.batchSeconds.observe({ stage: "pipeline" }, (performance.now() - entry.batch.startedAt) / 1000);
    this.remove(entry);
    this.committer.schedule();
  }

  private batchFailed(entry: InFlightBatch, err: unknown): void {
    this.remove(entry);
    if (entry.abandoned) {
      this.log.info({ batch: entry.batch.id }, "abandoned batch ended; its offsets are not committed");
      return;
    }
    this.fail(err);
  }

  private remove(entry: InFlightBatch): void {
    this.pauses?.release(`retry:${entry.batch.id}`);
    this.inFlight.delete(entry);
    this.m.batchesInFlight.set({}, this.inFlight.size);
    this.backpressure();
  }

  /** Abandons a batch: its retries stop, and nothing of it will be committed (its offsets are re-delivered). */
  private abandon(entry: InFlightBatch, why: string): void {
    if (entry.abandoned) return;
    entry.abandoned = true;
    entry.abort.abort();
    this.m.batchesAbandoned.inc({});
    this.log.warn({ batch: entry.batch.id, events: entry.batch.size, why }, "abandoning an in-flight batch; it will not be committed");
  }

  /** Counts and reports a jump of a partition's position that was not a delivery (see offset-jumps.ts). */
  private onJump(j: OffsetJump): void {
    const { topic, partition, reason, from, to, count } = j;
    this.m.skippedOffsets.inc({ topic, partition, reason }, count);
    if (reason === "deleted_before_read") {
      this.jumpTotals.deletedBeforeRead += count;
      this.lastDeletion = { at: Date.now(), jump: j };
      this.log.warn(
        { code: JUMP_CODES[reason], topic, partition, from, to, count },
        `the broker deleted ${count} events of ${topic}[${partition}] (offsets ${from}..${to - 1}) before they were read: they are lost`,
      );
    } else {
      this.jumpTotals.resetBackward += count;
      this.log.warn(
        { code: JUMP_CODES[reason], topic, partition, from, to, count },
        `the position of ${topic}[${partition}] moved back from ${from} to ${to} (log truncated or topic recreated): re-reading; duplicates are dropped`,
      );
    }
  }

  /** A non-retriable failure: stop without committing the failed batch; `finished` rejects with the error. */
  private fail(err: unknown): void {
    if (this.fatalError !== null) return;
    this.fatalError = err ?? new Error("unknown failure");
    this.log.error({ err: errorJson(err) }, "fatal pipeline error; stopping the worker without committing the failed batch");
    // A consumer in a fatal state (e.g. fenced) can commit nothing more: waiting out the whole shutdown
    // deadline for in-flight batches would only delay the restart that re-delivers them.
    const consumerDead = err instanceof KafkaError && err.fatal;
    void this.stop(consumerDead ? Math.min(FATAL_CONSUMER_STOP_MS, this.t.shutdown.deadlineMs) : undefined);
  }

  // ---- rebalance (rebalance-handler.ts) ---------------------------------------------------------

  /** Time a revocation may spend: the shutdown deadline, or what is left of it while stopping. */
  private revocationBudget(): number {
    return Math.max(0, Math.min(this.t.shutdown.deadlineMs, this.stopDeadline - Date.now()));
  }

  // ---- lag ----------------------------------------------------------------------------------------

  private async refreshLag(): Promise<void> {
    const consumer = this.consumer;
    if (!consumer || this.state !== "running") return;
    try {
      const lags = await consumer.lag();
      let total = 0;
      for (const l of lags) {
        const lag = Math.max(0, l.lag);
        this.m.consumerLag.set({ topic: l.topic, partition: l.partition }, lag);
        total += lag;
      }
      this.lag = total;
    } catch (err) {
      this.lag = -1;
      this.log.debug({ err: errorJson(err) }, "consumer lag query failed");
    }
  }

  // ---- shutdown -----------------------------------------------------------------------------------

  private async shutdown(deadlineMs: number, opts: StopOptions): Promise<WorkerProgress> {
    const start = Date.now();
    this.stopDeadline = start + deadlineMs;
    const wasRunning = this.state === "running";
    this.state = "stopping";
    if (this.lagTimer) clearInterval(this.lagTimer);
    this.lagTimer = null;
    this.cancelBackpressurePause();
    if (wasRunning) {
      // Stop fetching at once; what is already in flight may still finish.
      this.pauses?.hold(STOPPING, ALL_PARTITIONS);
      this.inFlight.notify();
      // Keep part of the budget for the commit, leaving the group and closing the stages.
      const reserve = Math.min(SHUTDOWN_RESERVE_MAX_MS, deadlineMs * SHUTDOWN_RESERVE_SHARE);
      const drainUntil = this.stopDeadline - reserve;
      await within(this.pumpDone, drainUntil - Date.now(), undefined);
      const open = this.inFlight.all();
      if (open.length > 0) {
        const drained = await within(Promise.all(open.map((e) => e.settled)).then(() => true), drainUntil - Date.now(), false);
        if (!drained) for (const e of this.inFlight.all()) this.abandon(e, "shutdown deadline");
      }
      await within(this.rebalance.basesKnown, this.stopDeadline - Date.now(), undefined);
      await within(this.committer.commitSync(undefined, this.stopDeadline - Date.now()), this.stopDeadline - Date.now(), undefined);
      // Gaps found but not yet classified must count in the final progress: a run that lost events says so.
      await within(this.jumps.settled(), this.stopDeadline - reserve / 2 - Date.now(), undefined);
      // Stay in the group (heartbeating, not fetching) until the rest of the fleet has committed too.
      if (opts.beforeLeave) await within(opts.beforeLeave(), this.stopDeadline - reserve / 2 - Date.now(), undefined);
    }
    this.committer.close();
    await this.closeResources(this.stopDeadline);
    this.state = "stopped";
    const progress = this.progress();
    this.log.info({ progress, elapsedMs: Date.now() - start }, "engine stopped");
    if (this.fatalError !== null) this.rejectFinished(this.fatalError);
    else this.resolveFinished(progress);
    return progress;
  }

  /** Leaves the group, flushes the dead-letter producer and closes the stages, each bounded by the deadline. */
  private async closeResources(deadline: number): Promise<void> {
    const left = () => Math.max(0, deadline - Date.now());
    const step = async (what: string, f: () => unknown) => {
      try {
        const ok = await within(Promise.resolve(f()).then(() => true), left(), false);
        if (!ok) this.log.warn({ what }, "shutdown step did not finish within the deadline");
      } catch (err) {
        this.log.warn({ what, err: errorJson(err) }, "shutdown step failed");
      }
    };
    // Closing the consumer revokes its partitions; the revocation handler commits again (a no-op now).
    const consumer = this.consumer;
    const producer = this.producer;
    this.consumer = null;
    this.producer = null;
    if (consumer) await step("consumer close", () => consumer.close());
    // close() flushes what is still queued (bounded by the time left), then purges the rest.
    if (producer) await step("producer close", () => producer.close(left()));
    const tracing = this.tracing;
    this.tracing = null;
    // Spans still queued get what is left of the deadline to export; then they are dropped (counted).
    if (tracing) await step("tracing flush", () => tracing.shutdown(left()));
    for (const stage of [...this.startedStages].reverse()) await step(`stage ${stage.name} close`, () => stage.close());
    this.startedStages = [];
  }
}
