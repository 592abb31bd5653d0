/**
 * The engine's side of a consumer-group rebalance: which partitions this worker owns, and what happens when
 * that changes.
 *
 * Assignment: a partition starts being tracked (keeping the state of one already tracked, so a duplicate
 * assignment never forgets in-flight work), and its committed offset and tally are read beside the rebalance,
 * never blocking it; commits of a partition wait until that base is known (see Committer).
 * Revocation: new records of the partitions are dropped at once, in-flight batches holding them get the
 * revocation budget to finish (the rest are abandoned uncommitted), the partitions are committed synchronously,
 * and only then forgotten. Returning from the handler lets the binding complete the revocation, after which this
 * worker never commits those partitions again.
 */
import type { Logger } from "pino";
import type { Consumer } from "../../kafka/index.ts";
import type { RebalanceEvent, TopicPartition } from "../../kafka/types.ts";
import { Backoff } from "../../timing/backoff.ts";
import { within } from "../../timing/sleep.ts";
import type { BatchFetcher } from "./batch-fetcher.ts";
import { COMMITTED_READ_BACKOFF, MIN_BROKER_REQUEST_MS } from "./budgets.ts";
import type { Committer } from "./committer.ts";
import type { EngineMetrics } from "./engine-metrics.ts";
import { errorJson } from "./error-json.ts";
import type { InFlightBatch, InFlightBatches } from "./in-flight.ts";
import type { OffsetJumpDetector } from "./offset-jumps.ts";
import { tpKey, type OffsetTracker } from "./offset-tracker.ts";
import type { PartitionLedger } from "./partition-ledger.ts";
import type { PauseController } from "./pause-controller.ts";

/** What the handler works on: the engine's bookkeeping, and its resources while they exist. */
export interface RebalanceDeps {
  tracker: OffsetTracker;
  ledger: PartitionLedger;
  jumps: OffsetJumpDetector;
  committer: Committer;
  inFlight: InFlightBatches;
  metrics: EngineMetrics;
  log: Logger;
  /** How long committed positions are read before their progress counts start from zero (the session timeout). */
  sessionTimeoutMs: number;
  consumer(): Consumer | null;
  fetcher(): BatchFetcher | null;
  pauses(): PauseController | null;
  /** Time a revocation may still spend (the shutdown deadline, or what is left of it while stopping). */
  revocationBudget(): number;
  /** True once the engine stopped: a failing read gives up at once. */
  stopped(): boolean;
  /** Abandons an in-flight batch (its retries stop, nothing of it is committed). */
  abandon(entry: InFlightBatch, why: string): void;
  /** The committed positions of newly assigned partitions are known. */
  positionsRead?(partitions: TopicPartition[]): void;
  /** An assignment was applied, or a revocation finished. */
  rebalanced?(e: RebalanceEvent): void;
}

/** Partition ownership of one engine across rebalances. */
export class RebalanceHandler {
  /** Partitions whose revocation is being handled: their records are dropped, never processed. */
  private readonly revoking = new Set<string>();
  /** Unowned partitions already reported once (the warning is not repeated per record). */
  private readonly warnedUnowned = new Set<string>();
  /** Committed-position reads of assigned partitions still under way (readCommittedTallies). */
  private basesPending: Promise<void> = Promise.resolve();
  private joinedGroup = false;

  constructor(private readonly d: RebalanceDeps) {}

  /** True once the first assignment arrived from the group (possibly empty). */
  get joined(): boolean {
    return this.joinedGroup;
  }

  /** Settles when every committed-position read started so far has ended. */
  get basesKnown(): Promise<void> {
    return this.basesPending;
  }

  /** Partitions currently owned (assigned and not being revoked). */
  assignment(): TopicPartition[] {
    return this.d.tracker.partitions().filter((tp) => !this.revoking.has(tpKey(tp.topic, tp.partition)));
  }

  /** True when records of the partition `key` (tpKey) may be processed: owned, and not being revoked. */
  owns(key: string): boolean {
    return this.d.tracker.ownsKey(key) && !this.revoking.has(key);
  }

  /** The fetcher's filter: records of partitions being revoked (or not assigned to us) are dropped; their new owner reads them. */
  admit(topic: string, partition: number): boolean {
    const key = tpKey(topic, partition);
    if (this.revoking.has(key)) return false;
    if (this.d.tracker.owns({ topic, partition })) return true;
    if (!this.warnedUnowned.has(key)) {
      this.warnedUnowned.add(key);
      this.d.log.warn({ topic, partition }, "dropping records of a partition this worker does not own");
    }
    return false;
  }

  /** The consumer's rebalance callback. */
  async onRebalance(e: RebalanceEvent): Promise<void> {
    if (e.type === "assigned") this.assign(e);
    else await this.revoke(e.partitions);
    this.d.rebalanced?.(e);
    this.d.committer.rebalanced(e);
  }

  private assign(e: RebalanceEvent): void {
    const { tracker, jumps, ledger } = this.d;
    for (const tp of e.partitions) if (!tracker.owns(tp)) jumps.assign(tp);
    // Where each partition stands, with its committed tally; read beside the rebalance (never blocking it),
    // and commits of a partition wait until its base is known (see Committer).
    ledger.startReading(e.partitions);
    const reading = this.readCommittedTallies(e.partitions).then(() => {
      this.d.positionsRead?.(e.partitions);
      this.d.committer.schedule();
    });
    this.basesPending = this.basesPending.then(() => reading);
    // Keep the state of a partition we already track (a duplicate assignment must not forget in-flight work).
    for (const tp of e.partitions) {
      if (!tracker.owns(tp)) tracker.assign(tp);
      this.warnedUnowned.delete(tpKey(tp.topic, tp.partition));
    }
    this.d.pauses()?.addAssigned(e.partitions);
    this.joinedGroup = true;
    this.d.metrics.assignedPartitions.set({}, this.assignment().length);
    this.d.log.info({ protocol: e.protocol, partitions: e.partitions }, "partitions assigned");
  }

  /**
   * Reads the group's committed offsets and tallies of newly assigned partitions (partition-ledger.ts).
   * Retried until it answers or the session timeout passes: commits of a partition whose base is unknown
   * would carry a wrong cumulative tally. After that the base counts from zero, with a warning.
   */
  private async readCommittedTallies(tps: TopicPartition[]): Promise<void> {
    const consumer = this.d.consumer();
    if (tps.length === 0) return;
    const deadline = consumer ? Date.now() + this.d.sessionTimeoutMs : 0;
    const backoff = new Backoff(COMMITTED_READ_BACKOFF);
    for (;;) {
      try {
        if (!consumer) throw new Error("the consumer is closed");
        for (const c of await consumer.committed(tps, Math.max(MIN_BROKER_REQUEST_MS, deadline - Date.now()))) {
          this.d.ledger.assigned(c);
          // The jump detector's starting point: a first delivery above it means the broker deleted what lay between.
          this.d.jumps.committedAt(c, c.offset);
        }
        return;
      } catch (err) {
        const delay = backoff.next();
        if (Date.now() + delay >= deadline || this.d.stopped() || !this.d.consumer()) {
          this.d.log.warn({ err: errorJson(err), partitions: tps }, "could not read the committed tallies of assigned partitions; their progress counts start from zero");
          for (const tp of tps) this.d.ledger.readFailed(tp);
          return;
        }
        await Bun.sleep(delay);
      }
    }
  }

  /**
   * Revocation: drop new records of those partitions, await in-flight batches holding them (bounded by the
   * revocation budget; the rest are abandoned uncommitted), commit them synchronously, then forget them.
   */
  private async revoke(tps: TopicPartition[]): Promise<void> {
    const { tracker, inFlight, committer, metrics } = this.d;
    const keys = new Set(tps.map((tp) => tpKey(tp.topic, tp.partition)));
    for (const k of keys) this.revoking.add(k);
    try {
      this.d.fetcher()?.purge();
      const affected = inFlight.touching(keys).filter((e) => !e.abandoned);
      if (affected.length > 0) {
        await within(Promise.all(affected.map((e) => e.settled)).then(() => true), this.d.revocationBudget(), false);
        for (const e of affected) {
          // A batch that also holds partitions we keep goes on for them; only wholly revoked ones stop.
          if (inFlight.all().includes(e) && [...e.partitions].every((k) => keys.has(k) || !tracker.ownsKey(k))) {
            this.d.abandon(e, "revocation deadline");
          }
        }
      }
      // Their final commit carries their tallies: the bases must be known first.
      await within(this.basesPending, this.d.revocationBudget(), undefined);
      await committer.commitSync(tps, Math.max(MIN_BROKER_REQUEST_MS, this.d.revocationBudget()));
    } finally {
      for (const tp of tps) {
        tracker.revoke(tp);
        this.d.jumps.revoke(tp);
        metrics.consumerLag.set({ topic: tp.topic, partition: tp.partition }, 0);
      }
      this.d.pauses()?.removeRevoked(tps);
      for (const k of keys) this.revoking.delete(k);
      metrics.assignedPartitions.set({}, this.assignment().length);
      this.d.log.info({ partitions: tps }, "partitions revoked");
    }
  }
}
