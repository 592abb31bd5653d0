/**
 * Every metric name topofleet exposes. Dashboards (dev/grafana), alerts and tests refer to these; change
 * one only together with them. Stage-level series carry a `stage` label.
 */
export const M = {
  // engine
  eventsIn: "topofleet_events_in_total", // {stage}
  eventsOut: "topofleet_events_out_total", // {stage, outcome: passed|persisted|duplicate|dead_lettered}
  sourceEvents: "topofleet_source_events_total", // events consumed from Kafka
  batchSeconds: "topofleet_batch_duration_seconds", // histogram {stage}; stage="pipeline" for the whole batch
  batchesInFlight: "topofleet_batches_in_flight",
  stageRetries: "topofleet_stage_retries_total", // {stage, code}
  batchesAbandoned: "topofleet_batches_abandoned_total", // in-flight batches given up (uncommitted) at a revocation or shutdown deadline
  deadLettered: "topofleet_dead_lettered_total", // {stage, code}
  commits: "topofleet_offset_commits_total",
  partitionsPaused: "topofleet_partitions_paused",
  consumerLag: "topofleet_consumer_lag", // gauge {topic, partition}
  assignedPartitions: "topofleet_assigned_partitions",
  skippedOffsets: "topofleet_skipped_offsets_total", // {topic, partition, reason: deleted_before_read|reset_backward}
  rereadEvents: "topofleet_reread_events_total", // events delivered again after a backward reset
  // supervisor
  workers: "topofleet_workers",
  workerRestarts: "topofleet_worker_restarts_total",
  desiredReplicas: "topofleet_desired_replicas",
  // dedupe
  dedupeFillRatio: "topofleet_dedupe_filter_fill_ratio", // gauge {window}
  dedupeFpRate: "topofleet_dedupe_estimated_false_positive_rate",
  dedupeMaybeSeen: "topofleet_dedupe_maybe_seen_total",
  dedupeVerifiedNew: "topofleet_dedupe_verified_new_total",
  dedupeDropped: "topofleet_dedupe_duplicates_dropped_total", // {stage, reason: in_batch|verified|filter}
  dedupePassthrough: "topofleet_dedupe_passthrough_total", // events passed unchecked while Redis was down
  // limit (tenant label: top-N tenants by volume, the rest "other"; see stages/limit/tenant-labels.ts)
  limitEvents: "topofleet_limit_events_total", // {stage, tenant, outcome: admitted|delayed|rate_limited|quota_exceeded|delay_too_long|passed_over|passthrough}
  limitHeld: "topofleet_limit_held_events", // gauge {stage}: events held by the delay policy in this worker
  limitRedisCalls: "topofleet_limit_redis_calls_total", // {stage, outcome: ok|failed}
  // tracing
  tracingSpansDropped: "topofleet_tracing_spans_dropped_total", // {reason: queue_full|export_failed|shutdown}
  tracingSpansExported: "topofleet_tracing_spans_exported_total",
  // enrich
  enrichLookupRefreshes: "topofleet_enrich_lookup_refreshes_total", // {stage, lookup, outcome: ok|failed}
  // persist
  persistRows: "topofleet_persist_rows_total", // {outcome: inserted|conflict|rejected}
  persistSeconds: "topofleet_persist_write_seconds",
} as const;
