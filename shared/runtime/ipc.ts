/**
 * Messages between the supervisor and its worker processes (Bun.spawn IPC). Plain JSON only.
 */
import type { FamilySnapshot } from "../telemetry/metrics.ts";
import type { TopicPartition } from "../kafka/types.ts";
import type { PartitionProgress } from "./engine/partition-ledger.ts";

/** Counts of fully processed (committed) source events, cumulative since the worker started. */
export interface WorkerProgress {
  events: number; // source events whose offsets are committed (or settled at shutdown)
  persisted: number;
  duplicates: number;
  invalid: number; // dead-lettered and acknowledged by Kafka
  filtered: number; // dropped on purpose by a filter stage
  lag: number; // total consumer lag over assigned partitions (-1 unknown)
  /** Every partition this process has owned: committed positions with cumulative tallies (partition-ledger.ts). */
  partitions?: PartitionProgress[];
  /** Offsets skipped because the broker deleted them (retention) before this worker read them: lost events. */
  deletedBeforeRead: number;
  /** Offsets by which a partition's position moved backwards (truncated log, recreated topic). */
  resetBackward: number;
  /** Events delivered again after a backward reset (the table drops them as duplicates). */
  reread: number;
}

export type WorkerToSupervisor =
  | { type: "started"; workerId: number; pid: number }
  | { type: "status"; workerId: number; assignment: TopicPartition[]; ready: boolean; detail?: string; progress: WorkerProgress; metrics: FamilySnapshot[] }
  | { type: "stopped"; workerId: number; progress: WorkerProgress; metrics: FamilySnapshot[] }
  /** Sent at once after each assignment, before anything of it is processed: the new partitions' committed bases. */
  | { type: "progress"; workerId: number; progress: WorkerProgress }
  /** Coordinated stop, phase 1 done: in-flight work finished and committed; waiting for `leave`. */
  | { type: "drained"; workerId: number }
  | { type: "fatal"; workerId: number; error: Record<string, unknown> };

/**
 * `stop` with `coordinated: true` is a fleet-wide drain in two phases: each worker finishes and commits its
 * in-flight work while the group is still stable, reports `drained`, and leaves the group only on `leave`
 * (sent once every worker has drained). Leaving one by one instead would rebalance the group under the
 * others' final commits, which the coordinator then refuses. A scale-down stops one worker uncoordinated.
 */
export type SupervisorToWorker =
  | { type: "stop"; reason: string; deadlineMs: number; coordinated?: boolean }
  | { type: "leave" };

/** Everything a worker process needs to start, passed as one JSON env var (TOPOFLEET_WORKER). */
export interface WorkerLaunch {
  workerId: number;
  topologyFile: string;
  /** Overrides applied on top of the file (CLI flags), e.g. brokers of the supervisor's mock cluster. */
  brokersOverride: string | null;
  /** Resolved persist URL when the supervisor hosts embedded PostgreSQL (PGlite socket). */
  databaseUrlOverride: string | null;
  dataDir: string;
  statusIntervalMs: number;
}

/**
 * Exit status of a worker (and of the CLI) for a configuration error that no restart can fix: a user module
 * that cannot be imported or never finishes loading. The supervisor stops the fleet with it instead of
 * restarting the worker into a crash loop.
 */
export const EXIT_CONFIG = 2;
