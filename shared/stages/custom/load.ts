/**
 * Loads a user stage from the absolute module path given in the topology file (`custom: {module, options}`).
 *
 * The module's default export is either a StageFactory `(options) => Stage | Promise<Stage>` (called, not
 * `new`ed, with the `options` map from the file) or a ready Stage object. Only `process` is mandatory;
 * a stage without `start`, `health` or `close` gets no-op versions. The stage runs under the name and kind
 * the topology gives it (metrics labels, DLQ headers), whatever it calls itself.
 */
import { TopofleetError } from "../../errors/index.ts";
import type { Batch } from "../batch.ts";
import type { CustomStageConfig } from "./config.ts";
import { describeValue, moduleLoadError, moduleShapeProblem, probeModule, withinModuleDeadline } from "../module-probe.ts";
import { isIdentityStore, type IdentityStore, type Stage, type StageContext, type StageHealth } from "../stage.ts";

type Partial = Pick<Stage, "process"> & Partial_<Omit<Stage, "process">> & Partial_<IdentityStore>;
type Partial_<T> = { [K in keyof T]?: T[K] };

const what = (cfg: CustomStageConfig): string => `custom stage "${cfg.name}"`;
const loadError = (cfg: CustomStageConfig, why: string, cause?: unknown) => moduleLoadError(what(cfg), cfg.module, why, cause);

/** A user stage under the topology's name; forwards the IdentityStore capability when the stage has it. */
class CustomStage implements Stage {
  readonly kind = "custom";
  readonly existing?: IdentityStore["existing"];

  constructor(
    readonly name: string,
    private readonly inner: Partial,
  ) {
    if (isIdentityStore(inner)) this.existing = (batch, indexes) => inner.existing(batch, indexes);
  }

  async start(ctx: StageContext): Promise<void> {
    await this.inner.start?.(ctx);
  }

  process(batch: Batch): Promise<void> {
    return this.inner.process(batch);
  }

  async health(): Promise<StageHealth> {
    return this.inner.health ? this.inner.health() : { ok: true };
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }
}

/**
 * Imports the module of a custom stage and builds the stage; throws ConfigError("CONFIG_MODULE_LOAD") naming the
 * path. The module is first probed in a thread (module-probe.ts), so one that throws, exits, spins or never
 * finishes loading fails within the start-up deadline instead of hanging the worker; the factory has the same deadline.
 */
export async function loadCustomStage(cfg: CustomStageConfig): Promise<Stage> {
  await probeModule(what(cfg), cfg.module, "custom");
  let mod: Record<string, unknown>;
  try {
    mod = await withinModuleDeadline(import(cfg.module), what(cfg), cfg.module, "the import");
  } catch (err) {
    if (err instanceof TopofleetError) throw err;
    throw loadError(cfg, `cannot import the module: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  const shape = moduleShapeProblem(mod, "custom");
  if (shape) throw loadError(cfg, shape);
  let exported = mod.default;
  if (typeof exported === "function") {
    try {
      exported = await withinModuleDeadline(
        Promise.resolve((exported as (o: Record<string, unknown>) => unknown)(cfg.options)),
        what(cfg),
        cfg.module,
        "the stage factory (the default export)",
      );
    } catch (err) {
      // A factory rejecting its options with a typed error keeps its code; anything else is a load failure.
      if (err instanceof TopofleetError) throw err;
      throw loadError(cfg, `the default export (a stage factory) threw: ${err instanceof Error ? err.message : String(err)}`, err);
    }
    if (typeof (exported as Partial | null)?.process !== "function") {
      throw loadError(cfg, `the stage factory returned ${describeValue(exported)}, not a Stage (an object with a process(batch) method)`);
    }
  }
  return new CustomStage(cfg.name, exported as Partial);
}
