/**
 * The per-worker pipeline engine (see engine.ts for the commit-ordering rules) and the worker process
 * around it (worker-main.ts). workers/worker.ts is the process entry.
 */
export { Engine, type EngineHooks, type EngineOptions, type Readiness } from "./engine.ts";
export { runWorker, readLaunch } from "./worker-main.ts";
export { applyLaunchOverrides, sourceBrokers, consumerConfig, deadLetterProducerConfig, type LaunchOverrides } from "./kafka-config.ts";
export { JUMP_CODES, OffsetJumpDetector, type JumpReason, type OffsetJump } from "./offset-jumps.ts";
export { OffsetTracker, tpKey, type PendingCommit, type SegmentHandle, type Tally } from "./offset-tracker.ts";
export { DLQ_HEADERS, deadLetterRecords } from "./dead-letter.ts";
export { RETRY_BACKOFF } from "./budgets.ts";
