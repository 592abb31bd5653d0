/**
 * Worker process entry: one consumer-group member running the pipeline engine. Spawned by the supervisor
 * (`bun run topology`) with TOPOFLEET_WORKER, or run alone as `bun workers/worker.ts <topology.yaml>`.
 * The logic lives in shared/runtime/engine/worker-main.ts.
 */
import { runWorker } from "../shared/runtime/engine/worker-main.ts";

const code = await runWorker();
// Give the IPC channel a moment to deliver the last message (`stopped` / `fatal`) before exiting.
setTimeout(() => process.exit(code), 50);
