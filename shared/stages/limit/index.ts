/** The limit stage: per-tenant rate limits and quotas in Redis (see stage.ts). */
import type { LimitStageConfig } from "./config.ts";
import { LimitStage, type LimitStageOptions } from "./stage.ts";

export { LIMIT_CODES, LimitStage, type LimitStageOptions } from "./stage.ts";

/** Builds a limit stage from its resolved config. */
export function createLimitStage(cfg: LimitStageConfig, options: LimitStageOptions = {}): LimitStage {
  return new LimitStage(cfg, options);
}
