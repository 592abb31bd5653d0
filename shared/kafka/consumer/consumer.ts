/**
 * Kafka consumer-group member over librdkafka's event API. The main queue is forwarded to the consumer
 * queue (rd_kafka_poll_set_consumer), so fetched messages, rebalances and errors arrive on one queue in
 * order; a wake-up pipe tells the event loop when it has something (see client/waker.ts).
 *
 * Why not rd_kafka_consume_batch_queue: it serves REBALANCE ops itself with a forced assign/unassign when
 * no C rebalance callback is set, which would take revocation away from the application. We poll events
 * one by one instead (rd_kafka_queue_poll + rd_kafka_event_message_next, two FFI calls per message) and
 * keep the message pointers in a bounded FetchBuffer until consume() hands them out.
 *
 * Rebalances are applied from JS (rebalance.ts: undelivered messages of revoked partitions dropped, the
 * caller's handler awaited, then the revocation completed). Polling of the consumer queue is suspended
 * while a rebalance is handled, so no message of a revoked partition can slip in behind it.
 */
import { read } from "bun:ffi";
import { KafkaError, closedError, needsRejoin } from "../errors.ts";
import { rdkafka } from "../ffi/lib.ts";
import { MSG } from "../ffi/memory.ts";
import { BlockingCalls } from "../client/blocking.ts";
import { handleErrorEvent } from "../client/events.ts";
import { EV, RD_KAFKA_CONSUMER, createHandle, destroyHandle } from "../client/handle.ts";
import { check, checkErrorPtr, errFromCode, errFromErrorPtr } from "../client/rd-errors.ts";
import { readTpList, tpKey, withTpList } from "../client/tplist.ts";
import { QueueWaker } from "../client/waker.ts";
import type {
  ConsumedBatch,
  ConsumerOptions,
  KafkaConfig,
  PartitionLag,
  RebalanceEvent,
  TopicPartition,
  TopicPartitionOffset,
  WatermarkOffsets,
} from "../types.ts";
import { CommitTracker } from "./commits.ts";
import { MessageStore } from "./message-store.ts";
import { OffsetQueries } from "./offset-queries.ts";
import { Assignment } from "./rebalance.ts";
import { Backoff, type BackoffPolicy } from "../../timing/backoff.ts";

const ERR_PARTITION_EOF = -191;
const RD_KAFKA_PARTITION_UA = -1;
const RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE = 0x8;
/** Messages taken off librdkafka's queue ahead of consume() calls; polling stops while the buffer is this full. */
const DEFAULT_MAX_BUFFERED = 20_000;
/**
 * Spacing of a sync commit retried after a retriable coordinator error: 50 ms doubling to 1 s, no jitter
 * (one caller per consumer). The caller's timeout bounds the whole loop.
 */
/**
 * Longest close() waits for a member that joined but never synced to finish syncing (destroying it earlier
 * is unsafe, see destroyIsSafe); a sync normally takes a heartbeat or two.
 */
const CLOSE_SYNC_WAIT_MS = 10_000;
/** Default timeout of a broker query (committed offsets, watermarks, lag, offsets for times): a few round trips. */
const QUERY_TIMEOUT_MS = 10_000;
const SYNC_COMMIT_BACKOFF: BackoffPolicy = { initialMs: 50, maxMs: 1_000, multiplier: 2, jitter: "none" };
/** First librdkafka release that survives destroying a cooperative-sticky member that never synced (#4312). */
const FIXED_STICKY_DESTROY = 0x020300ff;
/** Handles deliberately not destroyed (see Consumer.destroyIsSafe); kept reachable for debuggers. */
const leakedHandles: number[] = [];

/** Options of Consumer.commit. */
export interface CommitOptions {
  /**
   * true: retry retriable failures (coordinator moving, rebalance in progress) until `timeoutMs`, like
   * Kafka's commitSync; use it on revocation and shutdown. false (default): one attempt.
   * Either way the promise settles from the broker's answer, and the event loop is never blocked.
   */
  sync?: boolean;
  timeoutMs?: number;
}

/** A consumer-group member: subscribe, consume batches, commit explicit offsets. */
/** The librdkafka version (rd_kafka_version(), 0xMMmmrrxx) that has fetch.queue.backoff.ms: 2.1.0. */
const FETCH_QUEUE_BACKOFF_SINCE = 0x020100ff;

export class Consumer {
  private readonly rk: number;
  private readonly queue: number;
  private readonly waker: QueueWaker;
  private readonly commits: CommitTracker;
  private readonly blocking = new BlockingCalls();
  private readonly queries: OffsetQueries;
  private readonly store = new MessageStore((err) => this.onError?.(err));
  private readonly owned: Assignment;
  private rebalancing: Promise<void> | null = null;
  /** A REBALANCE event polled by a refill after a batch was taken, applied once that batch reached the caller. */
  private deferredRebalance: number | null = null;
  private dataWaiters: Array<() => void> = [];
  private consumeChain: Promise<unknown> = Promise.resolve();
  private state: "open" | "closing" | "closed" = "open";
  private closing: Promise<void> | null = null;
  private fatal: KafkaError | null = null;
  private readonly maxBuffered = DEFAULT_MAX_BUFFERED;
  private readonly cooperativeConfigured: boolean;
  private subscribed = false;
  private readonly onRebalance?: ConsumerOptions["onRebalance"];
  private readonly onError?: ConsumerOptions["onError"];

  constructor(opts: ConsumerOptions) {
    this.onRebalance = opts.onRebalance;
    this.onError = opts.onError;
    const lib = rdkafka();
    const config: KafkaConfig = {
      // librdkafka 2.0 stops fetching a partition once the consumer queue holds queued.min.messages
      // (default 100,000) and looks again only about a second later (fetch.queue.backoff.ms is 2.1+), which
      // starves a consumer that reads 300k+ msg/s. The byte bound (queued.max.messages.kbytes, 64 MB by
      // default) still caps prefetch memory.
      "queued.min.messages": "1000000",
      // Every pause/resume (the engine pauses all partitions under backpressure, about once per batch at
      // saturation) bumps librdkafka's version barrier: whatever it had prefetched is dropped and fetched
      // again from the application's position. With the 64 MB default the broker sent 2.6-2.8x the topic's
      // bytes in a 600k-event bench; with 8 MB 1.7-1.9x, librdkafka's broker threads used 0.3 s less CPU per
      // million events and each worker ~45 MB less RSS (dev/bench/PROFILE.md). 8 MB is still ~15k messages
      // of 550 B on top of the binding's own 20k-message buffer.
      "queued.max.messages.kbytes": "8192",
      // librdkafka 2.1+ then postpones a partition's next fetch by fetch.queue.backoff.ms (1 s by default) each time
      // the queue is over that bound: a consumer faster than one 8 MB fetch cycle waited ~1 s per 8 MB (the binding
      // bench read 95k msg/s instead of 1.25M on the mock). 10 ms resumes fetching as soon as some was drained.
      ...(lib.rd_kafka_version() >= FETCH_QUEUE_BACKOFF_SINCE ? { "fetch.queue.backoff.ms": "10" } : {}),
      ...opts.config,
      // Offsets are committed only explicitly, after the caller made the rows durable.
      "enable.auto.commit": "false",
    };
    this.cooperativeConfigured = /cooperative-sticky/.test(config["partition.assignment.strategy"] ?? "");
    this.rk = createHandle(RD_KAFKA_CONSUMER, config, EV.REBALANCE | EV.ERROR | EV.OFFSET_COMMIT);
    check(lib.rd_kafka_poll_set_consumer(this.rk), "poll_set_consumer");
    this.queue = lib.rd_kafka_queue_get_consumer(this.rk) as number;
    this.commits = new CommitTracker(this.rk, (err) => this.onError?.(err));
    this.queries = new OffsetQueries(this.rk, this.blocking);
    this.owned = new Assignment(this.rk, {
      dropPartitions: (keys) => this.store.dropPartitions(keys),
      dropAll: () => this.store.dropUndelivered(),
      notify: (e) => this.notify(e),
      onError: (err) => this.onError?.(err),
    });
    this.waker = new QueueWaker(this.queue, () => this.pump(), 250, (err) => this.onError?.(err));
  }

  /** Subscribes to topic names and `^regex` patterns (replaces any previous subscription). */
  subscribe(topics: readonly string[]): void {
    this.ensureOpen("subscribe");
    const err = withTpList(
      topics.map((topic) => ({ topic, partition: RD_KAFKA_PARTITION_UA })),
      (list) => rdkafka().rd_kafka_subscribe(this.rk, list),
    );
    check(err, `subscribe ${topics.join(",")}`);
    this.subscribed = true;
  }

  /**
   * Resolves with up to `maxMessages` messages as soon as at least one is available, or with an empty batch
   * after `timeoutMs`. The batch must be released exactly once (ConsumedBatch.release()); its value and
   * key views are valid until then. Calls are served one at a time, in call order.
   */
  consume(maxMessages: number, timeoutMs: number): Promise<ConsumedBatch> {
    const run = this.consumeChain.then(() => this.consumeOnce(maxMessages, timeoutMs));
    this.consumeChain = run.catch(() => undefined);
    return run;
  }

  private async consumeOnce(max: number, timeoutMs: number): Promise<ConsumedBatch> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.state === "closed") throw closedError("consume");
      if (this.fatal) throw this.fatal;
      this.pump();
      if (this.store.buffered > 0 || deadline <= Date.now()) {
        const batch = this.store.take(max);
        // Refill (the buffer may have been full, holding further events back), but a revocation found now
        // waits until this batch is in the caller's hands: its handler must see the batch as in flight,
        // never learn of it only after it ran.
        this.pump(true);
        return batch;
      }
      const left = deadline - Date.now();
      await this.waitForData(left);
    }
  }

  /**
   * Commits explicit offsets (offset = last processed + 1). Resolves when the group coordinator accepted
   * them; rejects with a KafkaError (e.g. ILLEGAL_GENERATION after losing the partitions).
   */
  async commit(offsets: readonly TopicPartitionOffset[], opts: CommitOptions = {}): Promise<void> {
    this.ensureOpen("commit");
    if (offsets.length === 0) return;
    if (!opts.sync) return this.commits.commit(offsets);
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    const backoff = new Backoff(SYNC_COMMIT_BACKOFF);
    for (;;) {
      try {
        return await this.commits.commit(offsets);
      } catch (err) {
        // A commit refused for a stale generation only goes through after the rejoin, which may be waiting
        // for this very caller (a revocation handler): the caller decides when to try again.
        if (!(err instanceof KafkaError) || !err.retriable || needsRejoin(err.code)) throw err;
        const delay = backoff.next();
        if (Date.now() + delay > deadline || this.state === "closed") throw err;
        await Bun.sleep(delay);
      }
    }
  }

  /**
   * Stops fetching `tps`; buffered messages of them are held back and delivered after resume(). A
   * partition librdkafka does not know (per-partition error) is reported to onError and skipped, so a
   * pause racing a revocation never throws at the caller.
   */
  pause(tps: readonly TopicPartition[]): void {
    this.ensureOpen("pause");
    this.store.hold(this.applyToPartitions(tps, (list) => rdkafka().rd_kafka_pause_partitions(this.rk, list), "pause"));
  }

  /** Resumes `tps`: held messages come first, then fetching continues where they end. */
  resume(tps: readonly TopicPartition[]): void {
    this.ensureOpen("resume");
    const ok = this.applyToPartitions(tps, (list) => rdkafka().rd_kafka_resume_partitions(this.rk, list), "resume");
    if (this.store.unhold(ok) > 0) this.wakeData();
  }

  /** Moves the fetch position of an assigned partition; buffered messages of it are discarded. */
  seek(tpo: TopicPartitionOffset): void {
    this.ensureOpen("seek");
    // timeout 0: librdkafka starts the seek and bumps the partition's version barrier before returning,
    // so no message fetched for the old position can reach the queue consumers after this call.
    const error = withTpList([tpo], (list) => rdkafka().rd_kafka_seek_partitions(this.rk, list, 0)) as number | null;
    checkErrorPtr(error, `seek ${tpo.topic}[${tpo.partition}]`);
    this.store.discard(new Set([tpKey(tpo.topic, tpo.partition)]));
  }

  /** For each partition, the earliest offset whose timestamp is >= `timestamp` (-1 when there is none). */
  offsetsForTimes(tps: ReadonlyArray<TopicPartition & { timestamp: number }>, timeoutMs = QUERY_TIMEOUT_MS): Promise<TopicPartitionOffset[]> {
    this.ensureOpen("offsetsForTimes");
    return this.queries.offsetsForTimes(tps, timeoutMs);
  }

  /** The group's committed offsets for `tps` (-1001 where none is committed). */
  committed(tps: readonly TopicPartition[], timeoutMs = QUERY_TIMEOUT_MS): Promise<TopicPartitionOffset[]> {
    this.ensureOpen("committed");
    return this.queries.committed(tps, timeoutMs);
  }

  /** Low and high watermarks queried from the partition leader. */
  watermarks(topic: string, partition: number, timeoutMs = QUERY_TIMEOUT_MS): Promise<WatermarkOffsets> {
    this.ensureOpen("watermarks");
    return this.queries.watermarks(topic, partition, timeoutMs);
  }

  /**
   * Watermarks as last seen by the fetcher, without a request (null while unknown). The high watermark is
   * updated by every fetch response of an assigned partition; the low one only with statistics enabled.
   */
  cachedWatermarks(topic: string, partition: number): WatermarkOffsets | null {
    this.ensureOpen("cachedWatermarks");
    return this.queries.cachedWatermarks(topic, partition);
  }

  /** Lag of every assigned partition: high watermark (cached, else queried) minus the committed offset. */
  lag(timeoutMs = QUERY_TIMEOUT_MS): Promise<PartitionLag[]> {
    this.ensureOpen("lag");
    return this.queries.lag(this.assignment(), timeoutMs);
  }

  /** The partitions this member currently owns. */
  assignment(): TopicPartition[] {
    return this.owned.list();
  }

  /** Messages this consumer holds (buffered, held for paused partitions, or in unreleased batches). */
  get outstandingMessages(): number {
    return this.store.outstanding;
  }

  /**
   * Leaves the group cleanly: rd_kafka_consumer_close_queue, then serves the queue (the final revocation goes
   * through onRebalance like any other) until librdkafka reports the consumer closed, then destroys the
   * handle. Unreleased batches are released here: their views become invalid.
   */
  close(timeoutMs = 30_000): Promise<void> {
    return (this.closing ??= this.doClose(timeoutMs));
  }

  private async doClose(timeoutMs: number): Promise<void> {
    if (this.state !== "open") return;
    this.state = "closing";
    const lib = rdkafka();
    const deadline = Date.now() + timeoutMs;
    if (this.rebalancing) await this.rebalancing;
    // Give a member that joined but never synced the chance to, so destroying it is safe (see destroyIsSafe).
    const syncDeadline = Math.min(deadline, Date.now() + CLOSE_SYNC_WAIT_MS);
    while (!this.destroyIsSafe() && Date.now() < syncDeadline) {
      this.pump();
      if (this.rebalancing) await this.rebalancing;
      else await this.waitForData(50);
    }
    const error = lib.rd_kafka_consumer_close_queue(this.rk, this.queue) as number | null;
    if (error) this.onError?.(errFromErrorPtr(error, "consumer_close_queue"));
    while (lib.rd_kafka_consumer_closed(this.rk) === 0 && Date.now() < deadline) {
      this.pump();
      if (this.rebalancing) await this.rebalancing;
      else await this.waitForData(20);
    }
    this.state = "closed";
    if (this.deferredRebalance !== null) lib.rd_kafka_event_destroy(this.deferredRebalance);
    this.deferredRebalance = null;
    this.wakeData();
    await this.blocking.drain();
    this.store.destroyAll();
    await this.commits.close();
    await this.waker.close();
    lib.rd_kafka_queue_destroy(this.queue);
    if (!this.destroyIsSafe() || this.blocking.stuck) {
      // Leaking beats crashing: see destroyIsSafe, and BlockingCalls.stuck (a worker thread may still use rk).
      leakedHandles.push(this.rk);
      return;
    }
    // The group was left above; NO_CONSUMER_CLOSE keeps destroy from doing it again (and blocking).
    await destroyHandle(this.rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  }

  /**
   * librdkafka before 2.3.0 aborts the process (assertion in rd_kafka_sticky_assignor_state_destroy,
   * librdkafka#4312) when a cooperative-sticky member that joined the group but never completed a
   * SyncGroup is destroyed. Every completed sync produces an "assigned" event (possibly empty), so after
   * one the handle is safe to destroy. close() waits up to 10 s for it; failing that, the handle is left
   * alive (its group membership is already closed) rather than crash the process.
   */
  private destroyIsSafe(): boolean {
    return !this.cooperativeConfigured || !this.subscribed || this.owned.everAssigned || rdkafka().rd_kafka_version() >= FIXED_STICKY_DESTROY;
  }

  /**
   * Takes events off the consumer queue without blocking: messages into the buffer (until it is full),
   * rebalances handed to handleRebalance (polling stops until that completes), errors to onError.
   */
  private pump(deferRebalance = false): void {
    if (this.state === "closed" || this.rebalancing) return;
    const lib = rdkafka();
    if (this.deferredRebalance !== null) {
      if (deferRebalance) return;
      const ev = this.deferredRebalance;
      this.deferredRebalance = null;
      return this.startRebalance(ev);
    }
    let added = false;
    while (this.store.buffered < this.maxBuffered) {
      const ev = lib.rd_kafka_queue_poll(this.queue, 0) as number | null;
      if (!ev) break;
      // For a FETCH event this returns its one message (and records it as consumed for the fetcher);
      // destroying the message later destroys the event, which owns it.
      const m = lib.rd_kafka_event_message_next(ev) as number | null;
      if (m) {
        const err = read.i32(m as never, MSG.err);
        if (err !== 0 || this.state !== "open") {
          if (err !== 0 && err !== ERR_PARTITION_EOF) this.onError?.(errFromCode(err, "consume"));
          lib.rd_kafka_message_destroy(m);
          continue;
        }
        this.store.push(m);
        added = true;
        continue;
      }
      const type = lib.rd_kafka_event_type(ev);
      if (type === EV.REBALANCE) {
        if (deferRebalance) {
          this.deferredRebalance = ev;
          setImmediate(() => this.pump());
        } else this.startRebalance(ev);
        break;
      }
      if (type === EV.ERROR) this.handleError(ev);
      lib.rd_kafka_event_destroy(ev);
    }
    if (added) this.wakeData();
  }

  /** Applies a REBALANCE event; polling stops until it completes (and the caller's handler settled). */
  private startRebalance(ev: number): void {
    this.store.topics.clear(); // topic handles can change with the subscription
    this.rebalancing = this.owned.apply(ev)
      .catch((err) => this.onError?.(err))
      .finally(() => {
        rdkafka().rd_kafka_event_destroy(ev);
        this.rebalancing = null;
        this.pump();
      });
  }

  private handleError(ev: number): void {
    const err = handleErrorEvent(ev, this.rk, "consumer");
    if (err.code === "_PARTITION_EOF") return;
    if (err.fatal) {
      this.fatal ??= err;
      this.wakeData();
    }
    this.onError?.(err);
  }

  /** Runs the caller's handler; its failure is reported but never stops the rebalance from completing. */
  private async notify(e: RebalanceEvent): Promise<void> {
    if (!this.onRebalance) return;
    try {
      await this.onRebalance(e);
    } catch (err) {
      this.onError?.(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Runs a per-partition librdkafka call; returns the keys it succeeded for, reporting the others. */
  private applyToPartitions(tps: readonly TopicPartition[], fn: (list: number) => number, what: string): Set<string> {
    return withTpList(tps, (list) => {
      check(fn(list), what);
      const ok = new Set<string>();
      for (const e of readTpList(list)) {
        if (e.err === 0) ok.add(tpKey(e.topic, e.partition));
        else this.onError?.(errFromCode(e.err, `${what} ${e.topic}[${e.partition}]`));
      }
      return ok;
    });
  }

  private waitForData(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.dataWaiters.push(done);
    });
  }

  private wakeData(): void {
    if (this.dataWaiters.length === 0) return;
    const ws = this.dataWaiters;
    this.dataWaiters = [];
    for (const w of ws) w();
  }

  private ensureOpen(what: string): void {
    if (this.state === "closed") throw closedError(what);
  }
}
