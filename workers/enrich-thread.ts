/**
 * Piscina thread entry of the enrich stage. Thin on purpose: the work lives in shared/stages/enrich/thread.ts.
 * The plan arrives as piscina `workerData` (shared/stages/enrich/plan.ts).
 */
import { threadId, workerData } from "node:worker_threads";
import type { EnrichPlan } from "../shared/stages/enrich/plan.ts";
import type { EnrichSliceResult, EnrichTask } from "../shared/stages/enrich/protocol.ts";
import { EnrichThread } from "../shared/stages/enrich/thread.ts";
import { guardProcessExit } from "../shared/stages/enrich/user-module.ts";

guardProcessExit();
const thread = new EnrichThread(workerData as EnrichPlan, threadId);

/** Enriches one slice of a batch. */
export default function enrich(task: EnrichTask): Promise<EnrichSliceResult> {
  return thread.run(task);
}
