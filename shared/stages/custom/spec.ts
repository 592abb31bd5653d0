/** The custom stage's spec: a user module's StageFactory, with its options passed as given (see ../spec.ts). */
import { STAGE_NAME_PATTERN } from "../../config/common.ts";
import { any, type Infer, map, obj, opt, str } from "../../config/dsl.ts";
import { defineStage } from "../spec.ts";
import type { CustomStageConfig } from "./config.ts";

const schema = obj({
  description: "A stage of your own: a module whose default export is a StageFactory (or a Stage).",
  fields: {
    name: opt(
      str({
        description: "Stage name, unique in the pipeline.",
        pattern: STAGE_NAME_PATTERN,
        patternHint: "letters, digits, `_`, `.` or `-`",
        dynamicDefault: "the module's file name without extension",
      }),
    ),
    module: str({ description: "Module path, relative to the topology file.", minLength: 1 }),
    options: map({
      description: "Passed to the module's factory as is (after `${VAR}` interpolation).",
      default: {},
      values: any({ description: "Any YAML value." }),
    }),
  },
});

/** A custom stage's default name: its module's file name without extension. */
export function moduleBaseName(module: string | undefined): string | undefined {
  if (!module) return undefined;
  const base = module.split(/[\\/]/).pop() ?? module;
  return base.replace(/\.[^.]+$/, "") || base;
}

/** The custom stage: any number per pipeline, each under its own name. */
export const customSpec = defineStage<"custom", Infer<typeof schema>, CustomStageConfig>({
  kind: "custom",
  schema,
  example: { module: "./example.ts" },
  resolve(v, ctx) {
    return {
      kind: "custom",
      name: v.name ?? moduleBaseName(v.module)!,
      module: ctx.ref(`${ctx.path}.module`, v.module, { module: true }),
      options: v.options,
    };
  },
  nameOf: (v) => v?.name ?? moduleBaseName(v?.module),
  explain: (cfg) => [`Custom stage ${cfg.name}: ${cfg.module}.`],
  async create(cfg) {
    return (await import("./load.ts")).loadCustomStage(cfg);
  },
  // The module's own errors and rejection codes are the user's; a module that fails to load is a ConfigError (CONFIG_MODULE_LOAD).
  errors: {},
  rejections: {},
  referencedFiles: (cfg) => [cfg.module],
  userModules: (cfg) => [{ path: cfg.module, contract: "custom" }],
});
