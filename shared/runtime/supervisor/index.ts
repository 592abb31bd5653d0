/**
 * The supervisor: worker processes, restarts, lag-driven autoscaling, drains, fleet-wide progress and
 * metrics, and the services it hosts for local runs (mock cluster + generator, embedded PostgreSQL).
 */
export { Supervisor, type FleetOutcome, type SupervisorOptions } from "./supervisor.ts";
export {
  DEFAULT_AUTOSCALE_TIMING,
  decideScale,
  desiredReplicas,
  initialAutoscaleState,
  replicaBounds,
  type AutoscaleDecision,
  type AutoscaleObservation,
  type AutoscaleState,
  type AutoscaleTiming,
  type ReplicaBounds,
} from "./autoscaler.ts";
export { DEFAULT_RESTART, RestartPolicy, type RestartOptions, type RestartVerdict } from "./restart-policy.ts";
export { FleetMetrics } from "./fleet-metrics.ts";
export { FleetProgress, type FleetTotals } from "./fleet-progress.ts";
export { startLocalServices, type LocalServices } from "./local-services.ts";
export { countSubscribedPartitions, queryKafkaPartitions, sourcePartitions } from "./source-partitions.ts";
export { DEFAULT_WORKER_ENTRY, WorkerProcess, type WorkerExit, type WorkerSpawnOptions } from "./worker-process.ts";
