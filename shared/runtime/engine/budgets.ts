/**
 * The engine's timing budgets, named, each with the reason for its value. Those a deployment may reasonably
 * tune (the retry backoff, the commit budgets during a rebalance) come from the topology's `retry:` section;
 * their defaults and reasons are in shared/topology/defaults.ts, where the schema reads them. The rest are
 * internal and change only with the code that depends on them.
 */
import type { BackoffPolicy } from "../../timing/backoff.ts";
import { DEFAULT_RETRY } from "../../topology/defaults.ts";

/** Retries of a stage, the dead-letter producer and stage start-up, when no topology says otherwise (`retry:`). */
export const RETRY_BACKOFF: BackoffPolicy = DEFAULT_RETRY.backoff;

/**
 * Spacing of a sync commit the coordinator refused during a rebalance: 100 ms doubling to 1 s. The rejoin
 * usually completes within a heartbeat or two; one process retries alone, so no jitter.
 */
export const COMMIT_REJOIN_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 1_000, multiplier: 2, jitter: "none" };

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

