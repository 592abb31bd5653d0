/**
 * Every static default of a topology file outside `stages:` in one object (each stage's defaults sit next to
 * its spec in shared/stages/<kind>/spec.ts). The schema descriptors read their `default`s from here (so docs,
 * JSON Schema and the validator agree), and the resolver computes the few defaults that depend on other values
 * (group from the name, DLQ topic from the first topic).
 */
import type { Jitter } from "../timing/backoff.ts";
import type { RetryConfig } from "./types.ts";

/** Static defaults, in the units the resolved topology uses (ms, bytes). */
export const TOPOLOGY_DEFAULTS = {
  source: {
    start: "earliest" as const,
    staticMembership: true,
    // Several restarts of a crashed worker (250 ms backoff doubling, ~1-3 s start-up) fit in it; a worker that
    // does not come back (host lost, crash loop) hands its partitions over after it.
    sessionTimeoutMs: 10_000,
    // The heartbeat, when not set: a tenth of the session timeout, at most this (see resolveMembership).
    heartbeatMaxMs: 500,
    mock: { brokers: 1, partitions: 8, topics: ["events"] },
    generator: {
      rate: 20_000,
      tenants: 8,
      duplicateRatio: 0,
      invalidRatio: 0,
      binaryRatio: 0,
      payloadBytes: 256,
    },
  },
  batch: { maxEvents: 5_000, maxBytes: 8 * 1024 * 1024, maxWaitMs: 50 },
  concurrency: { replicas: 1, lagPerReplica: 100_000, inFlightBatches: 4 },
  http: { port: 9464, host: "0.0.0.0" },
  log: { level: "info" as const },
  shutdown: { deadlineMs: 30_000 },
  tracing: { sampling: 1, maxQueueSpans: 2_048, exportTimeoutMs: 10_000, maxLinksPerBatch: 128 },
  retry: {
    // Retries of a failing stage, the dead-letter producer and stage start-up. 100 ms rides out a dropped
    // connection; the 10 s cap keeps a worker probing a down database often enough to resume within seconds
    // of its return; equal jitter (a random half) spreads the fleet's retries apart.
    backoff: { initialMs: 100, maxMs: 10_000, multiplier: 2, jitter: "equal" as Jitter },
    commit: {
      // How long a sync commit (revocation, shutdown) keeps retrying while a rebalance refuses it. Longer only
      // delays the revocation: what stays uncommitted is re-processed by the next owner and deduplicated.
      rebalanceRetryMs: 5_000,
      // Async commits are held while the group rebalances; released after this long even if librdkafka never
      // reports the assignment that ends the hold (a safety net, not a pacing knob).
      holdMaxMs: 30_000,
    },
  },
};

/** The resolved `retry:` section of a topology that sets none of it. */
export const DEFAULT_RETRY: RetryConfig = TOPOLOGY_DEFAULTS.retry;

/** The resolved tracing of a topology without a `tracing:` endpoint. */
export const TRACING_OFF = {
  endpoint: null,
  sampling: TOPOLOGY_DEFAULTS.tracing.sampling,
  serviceName: "topofleet",
  headers: {},
  maxQueueSpans: TOPOLOGY_DEFAULTS.tracing.maxQueueSpans,
  exportTimeoutMs: TOPOLOGY_DEFAULTS.tracing.exportTimeoutMs,
  maxLinksPerBatch: TOPOLOGY_DEFAULTS.tracing.maxLinksPerBatch,
} as const;
