/**
 * The piscina pool of one enrich stage. Maps every pool-level failure to an EnrichError: a thread that dies
 * (crash, process.exit in a user module, an uncaught async error) fails its task with a retriable
 * ENRICH_POOL_FAILED while piscina starts a replacement thread, so the engine's retry finds a working pool.
 */
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import Piscina from "piscina";
import { EnrichError } from "../../errors/index.ts";
import type { EnrichPlan } from "./plan.ts";
import type { EnrichSliceOk, EnrichSliceResult, EnrichTask } from "./protocol.ts";

// piscina infers its transfer-list type from MessagePort.postMessage, which bun-types declares with an options
// object instead of an array; at run time piscina passes the array straight to postMessage, which Bun accepts.
type TransferList = NonNullable<NonNullable<Parameters<Piscina["run"]>[1]>["transferList"]>;

/** The thread entry point (thin: it only instantiates EnrichThread). */
export const ENRICH_THREAD_FILE = fileURLToPath(new URL("../../../workers/enrich-thread.ts", import.meta.url));

/** A fixed-size pool of enrich threads. */
export class EnrichPool {
  private readonly pool: Piscina<EnrichTask, EnrichSliceResult>;
  private closed = false;

  constructor(opts: { threads: number; plan: EnrichPlan; maxQueue: number; logger: Logger }) {
    this.pool = new Piscina({
      filename: ENRICH_THREAD_FILE,
      minThreads: opts.threads,
      maxThreads: opts.threads,
      // Threads never idle out: a batch should never wait for a thread (and a user module) to start.
      idleTimeout: 2 ** 31 - 1,
      maxQueue: opts.maxQueue,
      workerData: opts.plan,
    });
    // A thread that dies with no task in flight is reported here; piscina replaces it.
    this.pool.on("error", (err: Error) => opts.logger.error({ err: err.message }, "enrich thread died; piscina is replacing it"));
  }

  /** Threads currently alive. */
  get threads(): number {
    return this.pool.threads.length;
  }

  /** True until close(). */
  get open(): boolean {
    return !this.closed;
  }

  /** Runs one task; throws EnrichError for pool failures and for `{ok: false}` results. */
  async run(task: EnrichTask, transfer: ArrayBuffer[]): Promise<EnrichSliceOk> {
    let result: EnrichSliceResult;
    try {
      result = await this.pool.run(task, { transferList: transfer as unknown as TransferList });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (message === "Task queue is at limit") {
        throw new EnrichError("ENRICH_QUEUE_FULL", "enrich task queue is full", { retriable: true, cause: e });
      }
      throw new EnrichError("ENRICH_POOL_FAILED", `enrich thread failed: ${message}`, { retriable: true, cause: e });
    }
    if (!result.ok) throw new EnrichError(result.code, result.message, { retriable: result.retriable });
    return result;
  }

  /** Stops the threads after the tasks in flight. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
  }
}
