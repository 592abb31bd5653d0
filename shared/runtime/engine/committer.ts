/**
 * Issues the engine's offset commits from what the OffsetTracker says is done, and turns acknowledged
 * commits into progress.
 *
 * Ordering rules (the reason this is a module of its own):
 * - Async commits are coalesced: at most one is outstanding; completions that arrive meanwhile are folded
 *   into the next one. A sync commit (revocation, shutdown) first waits for the outstanding async one, so
 *   no commit of a partition can land after the revocation that took it away.
 * - While the group is rebalancing, async commits are held back. A commit sent while this member's
 *   JoinGroup is pending is answered only after the new generation forms, with ILLEGAL_GENERATION, and
 *   librdkafka before 2.10 treats that as "assignment lost" (librdkafka issue #4059): every partition is
 *   revoked as lost and its processed-but-uncommitted work is re-processed by the next owner (duplicates
 *   that dedupe absorbs, never loss). The hold starts at the first REBALANCE_IN_PROGRESS-like rejection
 *   and at every revocation (librdkafka rejoins right after one), and ends when the rebalance has
 *   completed: after the next assignment (eager, or a lost cooperative revocation) or the next two
 *   (a cooperative revocation is followed by an "assign after revoke" and then by the rejoin's assignment),
 *   or after `retry.commit.holdMax` (topology) as a safety net. The race cannot be closed entirely from outside librdkafka:
 *   a rebalance started by another member is visible only through our own rejected commits.
 */
import type { Logger } from "pino";
import { TopofleetError } from "../../errors/index.ts";
import { needsRejoin } from "../../kafka/errors.ts";
import { Backoff } from "../../timing/backoff.ts";
import { DEFAULT_RETRY } from "../../topology/defaults.ts";
import type { RetryConfig } from "../../topology/types.ts";
import { COMMIT_REJOIN_BACKOFF } from "./budgets.ts";
import { errorJson } from "./error-json.ts";
import type { RebalanceEvent, TopicPartition, TopicPartitionOffset } from "../../kafka/types.ts";
import type { EngineMetrics } from "./engine-metrics.ts";
import { addTally, emptyTally, type OffsetTracker, type Tally } from "./offset-tracker.ts";
import type { PartitionLedger } from "./partition-ledger.ts";

/** The consumer call the committer needs (the binding's Consumer.commit). */
export interface Committable {
  commit(offsets: readonly TopicPartitionOffset[], opts?: { sync?: boolean; timeoutMs?: number }): Promise<void>;
}

/** Observation hooks around commits. */
export interface CommitHooks {
  /** A commit is being issued (before the request goes out). */
  commitIssued?(offsets: TopicPartitionOffset[], sync: boolean): void;
  /** A commit's outcome: null when the coordinator acknowledged it. */
  commitSettled?(offsets: TopicPartitionOffset[], sync: boolean, error: unknown): void;
}

/**
 * Error codes that mean "the group is rebalancing": stop async commits until the rebalance is over
 * (needsRejoin). FENCED_INSTANCE_ID is not one: it is fatal for the consumer, and the engine stops.
 */
const rebalancing = (code: string | undefined): code is string => code !== undefined && (code === "REBALANCE_IN_PROGRESS" || needsRejoin(code));

/** Coalesced async commits, sync commits, and the progress they make final. */
export class Committer {
  private loop: Promise<void> | null = null;
  private again = false;
  private heldSince = 0;
  private holdTimer: ReturnType<typeof setTimeout> | null = null;
  /** Assignment events still expected before the current rebalance is complete. */
  private assignsToGo = 0;
  /** Outcome counts of every acknowledged commit. */
  readonly totals: Tally = emptyTally();

  constructor(
    private readonly tracker: OffsetTracker,
    private readonly consumer: () => Committable | null,
    private readonly metrics: EngineMetrics,
    private readonly log: Logger,
    private readonly hooks: CommitHooks = {},
    private readonly ledger: PartitionLedger | null = null,
    private readonly budgets: RetryConfig["commit"] = DEFAULT_RETRY.commit,
  ) {}

  /** True while async commits are held back because the group is rebalancing. */
  get held(): boolean {
    return this.heldSince > 0;
  }

  /** Starts an async commit, or asks the running one to go again when it ends (coalescing). */
  schedule(): void {
    if (this.held) return;
    if (this.loop) {
      this.again = true;
      return;
    }
    this.loop = (async () => {
      do {
        this.again = false;
        await this.commit(false);
      } while (this.again && !this.held && this.consumer());
    })().finally(() => (this.loop = null));
  }

  /** Waits until no async commit is outstanding. */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  /** Tracks the rebalance from its events; async commits resume once it has completed. */
  rebalanced(e: RebalanceEvent): void {
    if (e.type === "revoked") {
      this.assignsToGo = e.protocol === "cooperative" && !e.lost ? 2 : 1;
      this.hold();
      return;
    }
    if (this.assignsToGo > 0) this.assignsToGo--;
    if (this.assignsToGo > 0) return;
    this.release();
    this.schedule();
  }

  /**
   * Commits synchronously what is done (for `only` partitions, or all), after the outstanding async commit.
   * Retriable coordinator errors are retried by the binding until `timeoutMs`; never throws.
   */
  async commitSync(only?: TopicPartition[], timeoutMs?: number): Promise<void> {
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    // A peer leaving meanwhile (scale-in, crash) rebalances the group under us and the coordinator refuses
    // the commit (ILLEGAL_GENERATION / REBALANCE_IN_PROGRESS). After our rejoin the same offsets commit
    // under the new generation, so retry for a short while rather than leave processed work uncommitted
    // (it would be re-processed by the next owner). A fleet-wide drain avoids the case altogether: every
    // worker commits before any leaves (see ipc.ts).
    const rejoinDeadline = Math.min(deadline, Date.now() + this.budgets.rebalanceRetryMs);
    const backoff = new Backoff(COMMIT_REJOIN_BACKOFF);
    for (;;) {
      await this.idle();
      const code = await this.commit(true, only, deadline === Infinity ? undefined : deadline - Date.now());
      if (!rebalancing(code ?? undefined)) return;
      const delay = backoff.next();
      if (Date.now() + delay >= rejoinDeadline || !this.consumer()) {
        this.log.warn({ code }, "sync commit still refused by a rebalance; the next owner re-processes those events (deduplicated)");
        return;
      }
      this.log.debug({ code }, "sync commit refused while the group rebalances; retrying after the rejoin");
      await Bun.sleep(delay);
    }
  }


  /** Stops the hold timer (engine shutdown). */
  close(): void {
    this.release();
  }

  private hold(): void {
    if (this.held) return;
    this.heldSince = Date.now();
    this.log.debug("group is rebalancing: holding async offset commits until it settles");
    this.holdTimer = setTimeout(() => {
      this.assignsToGo = 0;
      this.release();
      this.schedule();
    }, this.budgets.holdMaxMs);
  }

  private release(): void {
    this.heldSince = 0;
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = null;
  }

  /** Commits what is done; returns the error code of a failed commit (null when acknowledged or nothing to do). */
  private async commit(sync: boolean, only?: TopicPartition[], timeoutMs?: number): Promise<string | null> {
    const consumer = this.consumer();
    if (!consumer) return null;
    // A partition whose committed base is still being read waits: its commit would carry a wrong tally.
    const known = this.ledger ? (only ?? this.tracker.partitions()).filter((tp) => this.ledger!.knows(tp)) : only;
    const commits = this.tracker.takeCommits(known);
    if (commits.length === 0) return null;
    const offsets = commits.map(({ topic, partition, offset }) => ({ topic, partition, offset }));
    // Each commit carries the partition's cumulative tally as metadata (partition-ledger.ts).
    const withTallies = commits.map((c, i) => ({ ...offsets[i], metadata: this.ledger?.metadataFor(c, c.tally) }));
    try {
      this.hooks.commitIssued?.(offsets, sync);
      await consumer.commit(withTallies, timeoutMs === undefined ? { sync } : { sync, timeoutMs: Math.max(1, timeoutMs) });
      for (const c of commits) {
        this.ledger?.acknowledged(c, c.offset, c.tally);
        addTally(this.totals, this.tracker.committed(c));
      }
      this.metrics.commits.inc({});
      this.hooks.commitSettled?.(offsets, sync, null);
      return null;
    } catch (err) {
      for (const c of commits) this.tracker.commitFailed(c);
      this.hooks.commitSettled?.(offsets, sync, err);
      const code = err instanceof TopofleetError ? err.code : undefined;
      if (rebalancing(code)) {
        if (!sync) this.hold();
        return code;
      }
      // Not fatal: the offsets stay uncommitted and the next commit covers them; after a crash or a
      // revocation they are re-delivered and deduplicated.
      this.log.warn({ err: errorJson(err), sync, partitions: commits.length }, "offset commit failed");
      return code ?? "UNKNOWN";
    }
  }
}
