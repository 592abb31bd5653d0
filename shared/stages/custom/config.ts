/** The resolved config of the custom stage (see ./spec.ts for its schema and resolver). */
import type { StageConfigBase } from "../stage-config.ts";

export interface CustomStageConfig extends StageConfigBase {
  kind: "custom";
  name: string;
  module: string; // absolute path
  options: Record<string, unknown>;
}

