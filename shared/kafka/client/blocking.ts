/**
 * Runs librdkafka's blocking calls on one shared worker thread (blocking-worker.ts) and returns promises.
 * The worker is started on first use and unref'd while idle, so it never keeps a process alive.
 *
 * librdkafka 2.0.2 can fail to honour a call's timeout (seen with rd_kafka_offsets_for_times on a
 * partition that does not exist). A call that has not answered `GRACE_MS` after its own timeout is
 * rejected with _TIMED_OUT, and the worker is abandoned for a fresh one, so one stuck call never blocks the
 * others. The stuck thread may still be using its rd_kafka_t, so its client must not destroy that handle
 * (BlockingCalls.stuck).
 */
import { KafkaError } from "../errors.ts";
import type { TopicPartition } from "../types.ts";
import type { TpEntry } from "./tplist.ts";

/** A request to the blocking-call worker; `rk` is the raw rd_kafka_t pointer. */
export type BlockingRequest =
  | { op: "watermarks"; rk: number; topic: string; partition: number; timeoutMs: number }
  | { op: "committed"; rk: number; tps: TopicPartition[]; timeoutMs: number }
  | { op: "offsetsForTimes"; rk: number; tps: Array<TopicPartition & { offset: number }>; timeoutMs: number }
  | { op: "metadata"; rk: number; timeoutMs: number };

type ResultOf<R extends BlockingRequest> = R["op"] extends "watermarks"
  ? { low: number; high: number }
  : R["op"] extends "metadata"
    ? Array<{ name: string; partitions: number[]; err: number }>
    : TpEntry[];

interface WireError {
  code: string;
  message: string;
  retriable: boolean;
  fatal: boolean;
  errno?: number;
}

const GRACE_MS = 5_000;

type Pending = { resolve: (v: unknown) => void; reject: (e: unknown) => void; timer: ReturnType<typeof setTimeout>; worker: Worker };

let worker: Worker | null = null;
let nextId = 1;
const pending = new Map<number, Pending>();

function getWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(new URL("./blocking-worker.ts", import.meta.url).href);
  w.onmessage = (e: MessageEvent<{ id: number; ok: boolean; result?: unknown; error?: WireError }>) => {
    const p = pending.get(e.data.id);
    if (!p) return;
    pending.delete(e.data.id);
    clearTimeout(p.timer);
    if (![...pending.values()].some((q) => q.worker === w)) w.unref();
    if (e.data.ok) p.resolve(e.data.result);
    else {
      const we = e.data.error!;
      p.reject(new KafkaError(we.code, we.message, { retriable: we.retriable, fatal: we.fatal, errno: we.errno }));
    }
  };
  w.onerror = (e) => {
    const err = new KafkaError("_FAIL", `blocking-call worker failed: ${e.message}`, { retriable: true });
    for (const [pid, p] of pending) {
      if (p.worker !== w) continue;
      clearTimeout(p.timer);
      pending.delete(pid);
      p.reject(err);
    }
    if (worker === w) worker = null;
  };
  w.unref();
  return (worker = w);
}

/** Sends one blocking librdkafka call to the worker thread; `onStuck` runs if it never answers. */
export function callBlocking<R extends BlockingRequest>(req: R, onStuck?: () => void): Promise<ResultOf<R>> {
  const w = getWorker();
  const id = nextId++;
  return new Promise<ResultOf<R>>((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      onStuck?.();
      // Abandon this thread: later calls get a fresh worker. Its other calls fail now rather than never.
      if (worker === w) worker = null;
      const err = new KafkaError("_TIMED_OUT", `${req.op}: librdkafka did not return within ${req.timeoutMs + GRACE_MS} ms`, { retriable: true });
      for (const [pid, p] of pending) {
        if (p.worker !== w) continue;
        clearTimeout(p.timer);
        pending.delete(pid);
        p.reject(err);
      }
      w.unref();
      reject(err);
    }, req.timeoutMs + GRACE_MS);
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer, worker: w });
    w.ref();
    w.postMessage({ ...req, id });
  });
}

/**
 * Tracks a client's calls in flight on the worker so close() can wait for them before destroying the
 * rd_kafka_t the worker is using.
 */
export class BlockingCalls {
  private readonly inFlight = new Set<Promise<unknown>>();
  /** A call never returned: a worker thread may still be inside librdkafka with this client's handle. */
  stuck = false;

  /** Runs `req` on the worker, remembering it until it settles. */
  run<R extends BlockingRequest>(req: R): Promise<ResultOf<R>> {
    const p = callBlocking(req, () => (this.stuck = true));
    const tracked = p.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(tracked);
    void tracked.then(() => this.inFlight.delete(tracked));
    return p;
  }

  /** Resolves once every call started through this tracker has settled. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }
}
