/**
 * An example custom stage: dead-letters events whose CloudEvents `type` is on a deny list, and optionally
 * events whose raw value is larger than a limit. Use it from a topology file, after `enrich` (it reads the
 * enriched `type` column):
 *
 *   stages:
 *     - enrich: {}
 *     - custom:
 *         name: deny-types
 *         module: ../shared/stages/custom/example.ts   # relative to the topology file
 *         options: { denyTypes: ["com.example.debug"], maxValueBytes: 65536 }
 *     - persist: { url: "${DATABASE_URL}" }
 *
 * The contract a stage follows is in shared/stages/stage.ts; in short:
 * - touch only Live events (`batch.liveIndexes()`), and give each one a terminal status or leave it Live for
 *   the next stage;
 * - a problem with one event is `batch.reject(i, {stage, code, reason})`, never a throw: the engine sends the
 *   original record to the dead-letter topic with the reason in headers;
 * - a throw is about the whole batch: a TopofleetError with `retriable: true` makes the engine back off and
 *   call `process` again with the same batch (so `process` must be safe to repeat), anything else stops the
 *   worker without committing the batch.
 */
import { ConfigError } from "../../errors/index.ts";
import type { Batch } from "../batch.ts";
import type { Stage, StageContext, StageFactory, StageHealth } from "../stage.ts";

/** Options of the example stage, from `custom.options` in the topology file. */
export interface ExampleFilterOptions {
  /** CloudEvents types to dead-letter. */
  denyTypes: string[];
  /** Dead-letter events whose raw Kafka value is larger than this many bytes (0 = no limit). */
  maxValueBytes: number;
}

/** Checks the options once, at start-up, with a typed error naming the bad option. */
function parseOptions(o: Record<string, unknown>): ExampleFilterOptions {
  const denyTypes = o.denyTypes ?? [];
  const maxValueBytes = o.maxValueBytes ?? 0;
  if (!Array.isArray(denyTypes) || !denyTypes.every((t) => typeof t === "string")) {
    throw new ConfigError("CONFIG_INVALID", "example filter: options.denyTypes must be a list of strings");
  }
  if (typeof maxValueBytes !== "number" || !Number.isInteger(maxValueBytes) || maxValueBytes < 0) {
    throw new ConfigError("CONFIG_INVALID", "example filter: options.maxValueBytes must be a non-negative integer");
  }
  return { denyTypes, maxValueBytes };
}

/** The example filter stage. */
class ExampleFilter implements Stage {
  readonly kind = "custom";
  readonly name = "example-filter";
  private readonly deny: Set<string>;

  constructor(private readonly opts: ExampleFilterOptions) {
    this.deny = new Set(opts.denyTypes);
  }

  async start(_ctx: StageContext): Promise<void> {}

  async process(batch: Batch): Promise<void> {
    const events = batch.events;
    for (const i of batch.liveIndexes()) {
      const size = batch.value(i)?.byteLength ?? 0;
      if (this.opts.maxValueBytes > 0 && size > this.opts.maxValueBytes) {
        batch.reject(i, { stage: this.name, code: "EXAMPLE_TOO_LARGE", reason: `value is ${size} bytes, limit ${this.opts.maxValueBytes}` });
      } else if (events && this.deny.has(events.type[i])) {
        batch.reject(i, { stage: this.name, code: "EXAMPLE_DENIED_TYPE", reason: `type "${events.type[i]}" is on the deny list` });
      }
    }
  }

  async health(): Promise<StageHealth> {
    return { ok: true };
  }

  async close(): Promise<void> {}
}

/** Default export: the StageFactory the engine calls with `custom.options`. */
const createExampleFilter: StageFactory = (options) => new ExampleFilter(parseOptions(options));
export default createExampleFilter;
