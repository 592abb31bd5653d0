/**
 * The piscina pool of one enrich stage. Maps every pool-level failure to an EnrichError: a thread that dies
 * (a native crash, an uncaught async error in a user module) fails its task with a retriable
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
  /** Tasks queued or running. piscina does not bound abortable tasks (they wait in its unbounded "skip
   * queue"), and every task here is abortable (the slice deadline), so the bound is kept here. */
  private pending = 0;
  private readonly maxPending: number;
  /**
   * Tasks handed to piscina: at most one per thread, the rest wait here in order. A task's deadline then
   * starts when a thread is free for it, never while it waits behind another batch's slices.
   */
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly size: number;

  constructor(opts: { threads: number; plan: EnrichPlan; maxQueue: number; logger: Logger }) {
    this.maxPending = opts.maxQueue + opts.threads;
    this.size = opts.threads;
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

  /**
   * Runs one task; throws EnrichError for pool failures and for `{ok: false}` results. A task still running
   * after `timeoutMs` is aborted: piscina terminates its thread (a spinning user module cannot be interrupted
   * any other way) and starts a replacement; the task fails with a retriable ENRICH_SLICE_TIMEOUT.
   */
  async run(task: EnrichTask, transfer: ArrayBuffer[], timeoutMs = Infinity): Promise<EnrichSliceOk> {
    if (this.pending >= this.maxPending) throw new EnrichError("ENRICH_QUEUE_FULL", "enrich task queue is full", { retriable: true });
    let result: EnrichSliceResult;
    this.pending++;
    if (this.running < this.size) this.running++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve)); // the finishing task hands its slot over
    const deadline = Number.isFinite(timeoutMs) ? new AbortController() : null;
    const timer = deadline ? setTimeout(() => deadline.abort(), timeoutMs) : undefined;
    try {
      result = await this.pool.run(task, { transferList: transfer as unknown as TransferList, signal: deadline?.signal });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (deadline?.signal.aborted) {
        throw new EnrichError("ENRICH_SLICE_TIMEOUT", `enrich slice of ${task.size} event(s) took longer than ${timeoutMs} ms; its thread was replaced`, {
          retriable: true,
          cause: e,
        });
      }
      if (message === "Task queue is at limit") {
        throw new EnrichError("ENRICH_QUEUE_FULL", "enrich task queue is full", { retriable: true, cause: e });
      }
      throw new EnrichError("ENRICH_POOL_FAILED", `enrich thread failed: ${message}`, { retriable: true, cause: e });
    } finally {
      this.pending--;
      clearTimeout(timer);
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
    if (!result.ok) throw new EnrichError(result.code, result.message, { retriable: result.retriable });
    return result;
  }

  /** Terminates the threads now, failing the tasks in flight (for threads stuck in a user module). */
  async destroy(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.destroy();
  }

  /** Stops the threads after the tasks in flight. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
  }
}
