/**
 * Every metric topofleet exposes: name, type, labels and help, in one table. Registrations take their help
 * text from here, dashboards (dev/grafana), alerts and tests refer to the names, and docs/reference/metrics.md
 * is generated from it; change a name only together with them. Stage-level series carry a `stage` label.
 */

/** One metric family. */
export interface MetricSpec {
  readonly name: string;
  readonly type: "counter" | "gauge" | "histogram";
  /** Label names, each with its values when they form a closed set (`outcome: passed|persisted`). */
  readonly labels: readonly string[];
  /** The `# HELP` text, also the meaning in the reference. */
  readonly help: string;
}

/** The catalog, keyed by the short names code uses (`M.eventsIn`). */
export const METRICS = {
  // engine
  sourceEvents: {
    name: "topofleet_source_events_total",
    type: "counter",
    labels: [],
    help: "Events consumed from Kafka (re-deliveries included).",
  },
  eventsIn: { name: "topofleet_events_in_total", type: "counter", labels: ["stage"], help: "Events entering a stage, by stage." },
  eventsOut: {
    name: "topofleet_events_out_total",
    type: "counter",
    labels: ["stage", "outcome: passed|persisted|duplicate|dead_lettered|held|filtered"],
    help: "Events leaving a stage, by stage and outcome.",
  },
  batchSeconds: {
    name: "topofleet_batch_duration_seconds",
    type: "histogram",
    labels: ["stage"],
    help: "Batch latency by stage; stage=pipeline is consume-to-commit-ready.",
  },
  batchesInFlight: { name: "topofleet_batches_in_flight", type: "gauge", labels: [], help: "Batches between consume and commit." },
  stageRetries: {
    name: "topofleet_stage_retries_total",
    type: "counter",
    labels: ["stage", "code"],
    help: "Retries of a stage (or dead-letter delivery, stage=dead-letter) after a retriable error, by stage and code.",
  },
  batchesAbandoned: {
    name: "topofleet_batches_abandoned_total",
    type: "counter",
    labels: [],
    help: "In-flight batches abandoned uncommitted at a revocation or shutdown deadline (re-delivered, then deduplicated).",
  },
  deadLettered: {
    name: "topofleet_dead_lettered_total",
    type: "counter",
    labels: ["stage", "code"],
    help: "Events sent to the dead-letter topic and acknowledged, by stage and code.",
  },
  commits: { name: "topofleet_offset_commits_total", type: "counter", labels: [], help: "Offset commits acknowledged by the group coordinator." },
  partitionsPaused: {
    name: "topofleet_partitions_paused",
    type: "gauge",
    labels: [],
    help: "Assigned partitions currently paused (the in-flight limit reached for over 2 s, or a retrying batch).",
  },
  consumerLag: {
    name: "topofleet_consumer_lag",
    type: "gauge",
    labels: ["topic", "partition"],
    help: "Consumer lag (high watermark - committed offset) per assigned partition, refreshed every 5 s.",
  },
  assignedPartitions: { name: "topofleet_assigned_partitions", type: "gauge", labels: [], help: "Partitions assigned to this worker." },
  skippedOffsets: {
    name: "topofleet_skipped_offsets_total",
    type: "counter",
    labels: ["topic", "partition", "reason: deleted_before_read|reset_backward"],
    help: "Offsets the position jumped over without delivering them, by reason: deleted_before_read (retention deleted unread events: lost) or reset_backward (the log moved back: re-read).",
  },
  rereadEvents: {
    name: "topofleet_reread_events_total",
    type: "counter",
    labels: [],
    help: "Events delivered again after a backward reset (the table drops them as duplicates).",
  },
  // supervisor
  workers: { name: "topofleet_workers", type: "gauge", labels: [], help: "Worker processes currently running." },
  workerRestarts: {
    name: "topofleet_worker_restarts_total",
    type: "counter",
    labels: ["worker"],
    help: "Worker processes restarted after a crash, by worker slot.",
  },
  desiredReplicas: {
    name: "topofleet_desired_replicas",
    type: "gauge",
    labels: [],
    help: "Replica count the supervisor is aiming for (autoscaler target).",
  },
  // dedupe
  dedupeFillRatio: {
    name: "topofleet_dedupe_filter_fill_ratio",
    type: "gauge",
    labels: ["stage", "window"],
    help: "Highest fill ratio (set bits / bits) among the sampled filters of the current window.",
  },
  dedupeFpRate: {
    name: "topofleet_dedupe_estimated_false_positive_rate",
    type: "gauge",
    labels: ["stage"],
    help: "Estimated false-positive rate of the fullest sampled filter of the current window.",
  },
  dedupeMaybeSeen: { name: "topofleet_dedupe_maybe_seen_total", type: "counter", labels: ["stage"], help: "Events the Bloom filter called maybe seen." },
  dedupeVerifiedNew: {
    name: "topofleet_dedupe_verified_new_total",
    type: "counter",
    labels: ["stage"],
    help: "Maybe-seen events PostgreSQL showed to be new (filter false positives or replays).",
  },
  dedupeDropped: {
    name: "topofleet_dedupe_duplicates_dropped_total",
    type: "counter",
    labels: ["stage", "reason: in_batch|verified|filter"],
    help: "Events dropped as duplicates, by reason.",
  },
  dedupePassthrough: {
    name: "topofleet_dedupe_passthrough_total",
    type: "counter",
    labels: ["stage"],
    help: "Events passed on unchecked because Redis was unreachable (onRedisDown: passthrough).",
  },
  // limit (tenant label: top-N tenants by volume, the rest "other"; see stages/limit/tenant-labels.ts)
  limitEvents: {
    name: "topofleet_limit_events_total",
    type: "counter",
    labels: ["stage", "tenant", "outcome: admitted|delayed|rate_limited|quota_exceeded|delay_too_long|passed_over|passthrough"],
    help: "Events at the limit stage by tenant (the busiest `metricsTopTenants`, the rest `other`) and outcome.",
  },
  limitHeld: { name: "topofleet_limit_held_events", type: "gauge", labels: ["stage"], help: "Events held by the delay policy in this worker." },
  limitRedisCalls: {
    name: "topofleet_limit_redis_calls_total",
    type: "counter",
    labels: ["stage", "outcome: ok|failed"],
    help: "Calls of the limit script (one per batch), by outcome.",
  },
  // tracing
  tracingSpansDropped: {
    name: "topofleet_tracing_spans_dropped_total",
    type: "counter",
    labels: ["reason: queue_full|export_failed|shutdown"],
    help: "Spans dropped instead of stalling the pipeline: export queue full, export failed, or left at shutdown.",
  },
  tracingSpansExported: { name: "topofleet_tracing_spans_exported_total", type: "counter", labels: [], help: "Spans exported over OTLP." },
  // enrich
  enrichLookupRefreshes: {
    name: "topofleet_enrich_lookup_refreshes_total",
    type: "counter",
    labels: ["stage", "lookup", "outcome: ok|failed"],
    help: "Lookup table refreshes by outcome (a failed refresh keeps the last table).",
  },
  // persist
  persistRows: {
    name: "topofleet_persist_rows_total",
    type: "counter",
    labels: ["stage", "outcome: inserted|conflict|rejected"],
    help: "Rows the persist stage settled, by outcome.",
  },
  persistSeconds: {
    name: "topofleet_persist_write_seconds",
    type: "histogram",
    labels: ["stage"],
    help: "Time to persist one batch (write, partition checks, isolation of bad rows).",
  },
  kafkaSinkRecords: {
    name: "topofleet_kafka_sink_records_total",
    type: "counter",
    labels: ["stage", "outcome: acked|rejected"],
    help: "Records the Kafka sink settled, by outcome (acked by the broker, rejected alone and dead-lettered).",
  },
  kafkaSinkSeconds: {
    name: "topofleet_kafka_sink_produce_seconds",
    type: "histogram",
    labels: ["stage"],
    help: "Time to produce one batch until every record is acknowledged (or refused).",
  },
} as const satisfies Record<string, MetricSpec>;

/** Metric names by short name: `M.eventsIn` is "topofleet_events_in_total". */
export const M = Object.fromEntries(Object.entries(METRICS).map(([k, v]) => [k, v.name])) as {
  readonly [K in keyof typeof METRICS]: (typeof METRICS)[K]["name"];
};

const BY_NAME: ReadonlyMap<string, MetricSpec> = new Map(Object.values(METRICS).map((s) => [s.name, s]));

/** The catalog entry of a metric name, or undefined for names outside it (tests' own metrics). */
export function metricSpec(name: string): MetricSpec | undefined {
  return BY_NAME.get(name);
}
