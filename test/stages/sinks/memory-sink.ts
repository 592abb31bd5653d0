/** A sink that keeps what it is given in memory: the sink after the sink under test, in the chaining case. */
import type { Batch } from "../../../shared/stages/batch.ts";
import { SinkStage, type Sink, type SinkSettlement } from "../../../shared/stages/sink.ts";

/** Remembers the ids it made durable, in order, and how many write calls it got. */
export class MemorySink implements Sink {
  readonly kind = "memorySink";
  readonly ids: string[] = [];
  writes = 0;
  constructor(readonly name = "memory") {}
  async start(): Promise<void> {}
  async write(batch: Batch, indexes: readonly number[], settle: SinkSettlement): Promise<void> {
    this.writes++;
    for (const i of indexes) {
      this.ids.push(batch.events!.id[i]);
      settle.durable(i);
    }
  }
  async health() {
    return { ok: true };
  }
  async close(): Promise<void> {}
}

/** A started MemorySink stage. */
export const memorySinkStage = (name?: string): SinkStage<MemorySink> => new SinkStage(new MemorySink(name));
