/**
 * The sink seam: one interface for everything that makes events durable somewhere (the persist stage's
 * PostgreSQL / PGlite table, the Kafka sink's topic, a custom sink), and the one Stage adapter that runs a
 * sink inside the pipeline.
 *
 * Exactness: the engine commits a batch's offsets only after every event is terminal, so a sink may settle
 * an event as durable only once it is durable (COMMIT returned, the broker acknowledged). A sink reports
 * through a SinkSettlement and never touches `batch.status` itself, which is what lets two sinks follow each
 * other: a sink with another sink after it records which events it made durable and leaves them Live for the
 * next one; the last sink makes them terminal (Persisted). The batch, and its offsets, complete only when the
 * last sink has acknowledged, so a crash in between replays the batch into every sink (each must therefore be
 * repeat-safe for the very same Kafka record; see each sink's docs for how it recognises its own earlier write).
 *
 * Errors, by scope:
 * - one event the sink refuses (a row the database rejects, a record over the broker's size limit):
 *   `settle.reject(i, {code, reason})` with a stable code; the engine dead-letters exactly that event;
 * - the whole batch: throw a TopofleetError. `retriable: true` (connection lost, broker down) makes the engine
 *   pause, back off and call again with the events not yet settled; `retriable: false` stops the worker
 *   without committing.
 */
import { RuntimeError } from "../errors/index.ts";
import { EventStatus, type Batch, type Rejection } from "./batch.ts";
import type { Stage, StageContext, StageHealth } from "./stage.ts";

/** How a sink reports the fate of each event it was given; each call is final for that event. */
export interface SinkSettlement {
  /** Event i is durable in the sink. */
  durable(i: number): void;
  /** The sink already holds event i from another Kafka record: dropped and counted as a duplicate. */
  duplicate(i: number): void;
  /** The sink refuses event i alone: it is dead-lettered with this stable code and reason. */
  reject(i: number, why: Omit<Rejection, "stage">): void;
}

/** A place events are made durable (see the module comment for the contract). */
export interface Sink {
  /** Stage kind, e.g. "persist" or "kafkaSink". */
  readonly kind: string;
  /** Unique name in the pipeline (metrics labels, dead-letter headers). */
  readonly name: string;
  /** Connects to the sink; a retriable TopofleetError while it is down. */
  start(ctx: StageContext): Promise<void>;
  /**
   * Writes the events at `indexes` (ascending, all Live, `batch.events` set) and settles each of them through
   * `settle` once its fate is final. Called again after a retriable failure with the events not yet settled.
   */
  write(batch: Batch, indexes: readonly number[], settle: SinkSettlement): Promise<void>;
  /** Whether the sink answers right now (/readyz). */
  health(): Promise<StageHealth>;
  /** Releases connections; called once, after the last write has settled. */
  close(): Promise<void>;
}

/** Runs a Sink as a pipeline stage (see the module comment). */
export class SinkStage<S extends Sink = Sink> implements Stage {
  readonly kind: string;
  readonly name: string;
  /** True unless another sink follows this one in the pipeline (set at start). */
  private last = true;
  /** Per batch, when a sink follows: the events this sink made durable (still Live for the next sink). */
  private readonly durableHere = new WeakMap<Batch, Set<number>>();

  constructor(readonly sink: S) {
    this.kind = sink.kind;
    this.name = sink.name;
  }

  /** Starts the sink and learns whether another sink follows it. */
  async start(ctx: StageContext): Promise<void> {
    const at = ctx.stages.indexOf(this);
    this.last = at < 0 || !ctx.stages.slice(at + 1).some(isSinkStage);
    await this.sink.start(ctx);
  }

  /** Writes the batch's Live events not yet durable here; fails the batch when the sink left one unsettled. */
  async process(batch: Batch): Promise<void> {
    let here = this.durableHere.get(batch);
    const indexes = here ? batch.liveIndexes().filter((i) => !here!.has(i)) : batch.liveIndexes();
    if (indexes.length === 0) return;
    if (!this.last && !here) this.durableHere.set(batch, (here = new Set()));
    await this.sink.write(batch, indexes, this.settlement(batch, here ?? null));
    const open = indexes.filter((i) => batch.status[i] === EventStatus.Live && !here?.has(i));
    if (open.length) {
      // Letting these pass would commit offsets of events no sink has made durable.
      throw new RuntimeError("RUNTIME_STAGE_FAILED", `sink "${this.name}" returned without settling ${open.length} of its ${indexes.length} event(s)`, {
        retriable: false,
        context: { batch: batch.id, unsettled: open.length },
      });
    }
  }

  health(): Promise<StageHealth> {
    return this.sink.health();
  }

  close(): Promise<void> {
    return this.sink.close();
  }

  private settlement(batch: Batch, here: Set<number> | null): SinkSettlement {
    const stage = this.name;
    return {
      durable: here ? (i) => here.add(i) : (i) => batch.markPersisted(i),
      duplicate: (i) => batch.markDuplicate(i),
      reject: (i, why) => batch.reject(i, { stage, code: why.code, reason: why.reason }),
    };
  }
}

/** True for stages that run a sink. */
export function isSinkStage(s: Stage): s is SinkStage {
  return s instanceof SinkStage;
}
