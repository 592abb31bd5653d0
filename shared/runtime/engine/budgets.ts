/**
 * The engine's timing budgets, named, each with the reason for its value. Those a deployment may reasonably
 * tune (the retry backoff, the commit budgets) are defaults of the topology's `retry:` section; the rest are
 * internal and change only with the code that depends on them.
 */
import type { BackoffPolicy } from "../../timing/backoff.ts";

/**
 * Retries of a stage, the dead-letter producer and stage start-up: 100 ms doubling to 10 s, equal jitter.
 * 100 ms rides out a dropped connection; the 10 s cap keeps a worker probing a down database often enough to
 * resume within seconds of its return; the random half spreads the fleet's retries apart.
 */
export const RETRY_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 10_000, multiplier: 2, jitter: "equal" };

/**
 * Spacing of a sync commit the coordinator refused during a rebalance: 100 ms doubling to 1 s. The rejoin
 * usually completes within a heartbeat or two; one process retries alone, so no jitter.
 */
export const COMMIT_REJOIN_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 1_000, multiplier: 2, jitter: "none" };

/**
 * How long a sync commit keeps retrying while a rebalance refuses it. Longer only delays a revocation or a
 * shutdown: what stays uncommitted is re-processed by the next owner and deduplicated.
 */
export const COMMIT_REJOIN_RETRY_MAX_MS = 5_000;

/**
 * Safety net for async commits held back during a rebalance (committer.ts): released after this long even
 * if librdkafka never reports the assignment that ends the hold.
 */
export const COMMIT_HOLD_MAX_MS = 30_000;

/**
 * Spacing of committed-offset reads for newly assigned partitions: 100 ms doubling to 2 s, no jitter. The
 * whole loop is bounded by the session timeout (the group has moved on by then).
 */
export const COMMITTED_READ_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 2_000, multiplier: 2, jitter: "none" };

/** Floor of a broker request's timeout: below it a request fails on round-trip time alone. */
export const MIN_BROKER_REQUEST_MS = 1_000;

/** A stage health check that takes longer counts as failed: /readyz must answer within a probe's timeout. */
export const HEALTH_TIMEOUT_MS = 2_000;

/** How long readiness reports a deletion of unread events after the last one was found (one scrape interval or more). */
export const LOSS_NOT_READY_MS = 30_000;

/** Stop budget after the consumer failed fatally: nothing can commit, so only closing the stages remains. */
export const FATAL_CONSUMER_STOP_MS = 3_000;

/** How often the consumer-lag gauges are refreshed: a broker round trip per partition, so not every batch. */
export const LAG_INTERVAL_MS = 5_000;

/**
 * Share of the shutdown deadline kept back from draining in-flight batches, for the final commit, leaving the
 * group and closing the stages; at most SHUTDOWN_RESERVE_MAX_MS, which those steps never need more than.
 */
export const SHUTDOWN_RESERVE_SHARE = 0.25;
export const SHUTDOWN_RESERVE_MAX_MS = 5_000;

/** Pause before a low-watermark query is retried (offset-jumps.ts): the broker is busy or away, no hurry. */
export const WATERMARK_RETRY_MS = 1_000;

/** Status report interval of a worker launched without one (the supervisor sends its own, see supervisor.ts). */
export const STATUS_INTERVAL_MS = 5_000;

/** The commit budgets a Committer works with (the topology's `retry.commit` fills them). */
export interface CommitBudgets {
  rejoinBackoff: BackoffPolicy;
  rejoinRetryMaxMs: number;
  holdMaxMs: number;
}

/** The commit budgets above, as one object. */
export const COMMIT_BUDGETS: CommitBudgets = {
  rejoinBackoff: COMMIT_REJOIN_BACKOFF,
  rejoinRetryMaxMs: COMMIT_REJOIN_RETRY_MAX_MS,
  holdMaxMs: COMMIT_HOLD_MAX_MS,
};
