/**
 * The persist stage's public API. See stage.ts for the write path, partitions.ts for the partition
 * policy, sqlstate.ts for error handling, and shared/embedded for the PGlite server.
 */
import type { PersistStageConfig } from "./config.ts";
import type { IdentityStore, Stage } from "../stage.ts";
import { PersistStage } from "./stage.ts";

export { PersistSink, PersistStage } from "./stage.ts";
export { migrate } from "./migrate.ts";
export { DEFAULT_COLUMNS, columnValue, rowValues } from "./columns.ts";
export { EMBEDDED_URL } from "./config.ts";
export { copyField, copyLine } from "./copy-text.ts";
export type { MaintenanceResult } from "./partitions.ts";

/** Creates the persist stage (validates names and mapping now; connects in start()). */
export function createPersistStage(cfg: PersistStageConfig): Stage & IdentityStore & PersistStage {
  return new PersistStage(cfg);
}
