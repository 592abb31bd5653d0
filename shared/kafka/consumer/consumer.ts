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
 * Rebalances: assign / incremental_assign / unassign / incremental_unassign are called from JS according to
 * rd_kafka_rebalance_protocol. On revocation the buffered messages of the revoked partitions are destroyed
 * first (they were never delivered; their offsets are not committed, so the next owner reads them),
 * then onRebalance is awaited (the caller finishes in-flight work and commits), and only then is the
 * revocation completed. Polling of the consumer queue is suspended while a rebalance is handled, so no
 * message of a revoked partition can slip in.
 */
import { read } from "bun:ffi";
import { KafkaError, closedError } from "../errors.ts";
import { rdkafka } from "../ffi/lib.ts";
import { MSG, cstr } from "../ffi/memory.ts";
import { BlockingCalls } from "../client/blocking.ts";
import { handleErrorEvent } from "../client/events.ts";
import { EV, RD_KAFKA_CONSUMER, createHandle } from "../client/handle.ts";
import { check, checkErrorPtr, errFromCode, errFromErrorPtr } from "../client/rd-errors.ts";
import { readTpList, tpKey, withTpList } from "../client/tplist.ts";
import { QueueWaker } from "../client/waker.ts";
import type {
  ConsumedBatch,
  ConsumedMessage,
  ConsumerOptions,
  KafkaConfig,
  PartitionLag,
  RebalanceEvent,
  TopicPartition,
  TopicPartitionOffset,
  WatermarkOffsets,
} from "../types.ts";
import { CommitTracker } from "./commits.ts";
import { FetchBuffer } from "./fetch-buffer.ts";
import { TopicNames, readMessages } from "./message-reader.ts";

const ERR_ASSIGN_PARTITIONS = -175;
const ERR_REVOKE_PARTITIONS = -174;
const ERR_PARTITION_EOF = -191;
const RD_KAFKA_PARTITION_UA = -1;
const RD_KAFKA_OFFSET_INVALID = -1001;
const RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE = 0x8;
/** Messages taken off librdkafka's queue ahead of consume() calls; polling stops while the buffer is this full. */
const DEFAULT_MAX_BUFFERED = 20_000;
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

/** A batch whose messages are destroyed exactly once, by release() or by Consumer.close(). */
class Batch implements ConsumedBatch {
  constructor(
    readonly messages: ConsumedMessage[],
    private ptrs: number[] | null,
    private readonly live: Set<Batch>,
  ) {
    if (ptrs && ptrs.length) live.add(this);
  }

  release(): void {
    const ptrs = this.ptrs;
    if (!ptrs) return;
    this.ptrs = null;
    this.live.delete(this);
    const lib = rdkafka();
    for (let i = 0; i < ptrs.length; i++) lib.rd_kafka_message_destroy(ptrs[i]);
  }

  get size(): number {
    return this.ptrs ? this.ptrs.length : 0;
  }
}

/** A consumer-group member: subscribe, consume batches, commit explicit offsets. */
export class Consumer {
  private readonly rk: number;
  private readonly queue: number;
  private readonly waker: QueueWaker;
  private readonly commits: CommitTracker;
  private readonly blocking = new BlockingCalls();
  private readonly buffer = new FetchBuffer();
  /** Buffered messages of paused partitions, by "topic:partition", delivered again after resume. */
  private readonly held = new Map<string, number[]>();
  private readonly paused = new Set<string>();
  private readonly topics = new TopicNames();
  private readonly live = new Set<Batch>();
  private readonly owned = new Map<string, TopicPartition>();
  private rebalancing: Promise<void> | null = null;
  private dataWaiters: Array<() => void> = [];
  private consumeChain: Promise<unknown> = Promise.resolve();
  private state: "open" | "closing" | "closed" = "open";
  private closing: Promise<void> | null = null;
  private fatal: KafkaError | null = null;
  private readonly maxBuffered = DEFAULT_MAX_BUFFERED;
  private readonly cooperativeConfigured: boolean;
  private subscribed = false;
  private everAssigned = false;
  private readonly onRebalance?: ConsumerOptions["onRebalance"];
  private readonly onError?: ConsumerOptions["onError"];

  constructor(opts: ConsumerOptions) {
    this.onRebalance = opts.onRebalance;
    this.onError = opts.onError;
    const lib = rdkafka();
    // Offsets are committed only explicitly, after the caller made the rows durable.
    const config: KafkaConfig = { ...opts.config, "enable.auto.commit": "false" };
    this.cooperativeConfigured = /cooperative-sticky/.test(config["partition.assignment.strategy"] ?? "");
    this.rk = createHandle(RD_KAFKA_CONSUMER, config, EV.REBALANCE | EV.ERROR | EV.OFFSET_COMMIT);
    check(lib.rd_kafka_poll_set_consumer(this.rk), "poll_set_consumer");
    this.queue = lib.rd_kafka_queue_get_consumer(this.rk) as number;
    this.commits = new CommitTracker(this.rk);
    this.waker = new QueueWaker(this.queue, () => this.pump());
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
      if (this.buffer.size > 0) {
        const ptrs = this.buffer.take(max);
        this.pump(); // refill: the buffer may have been full, holding further events back
        return new Batch(readMessages(ptrs, this.topics), ptrs, this.live);
      }
      const left = deadline - Date.now();
      if (left <= 0) return new Batch([], null, this.live);
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
    for (let backoff = 50; ; backoff = Math.min(backoff * 2, 1000)) {
      try {
        return await this.commits.commit(offsets);
      } catch (err) {
        if (!(err instanceof KafkaError) || !err.retriable || Date.now() + backoff > deadline || this.state === "closed") throw err;
        await Bun.sleep(backoff);
      }
    }
  }

  /** Stops fetching `tps`; buffered messages of them are held back and delivered after resume(). */
  pause(tps: readonly TopicPartition[]): void {
    this.ensureOpen("pause");
    this.checkPartitionErrors(tps, (list) => rdkafka().rd_kafka_pause_partitions(this.rk, list), "pause");
    const keys = new Set(tps.map((t) => tpKey(t.topic, t.partition)));
    for (const k of keys) this.paused.add(k);
    for (const m of this.extract(keys)) {
      const k = this.keyOf(m);
      let list = this.held.get(k);
      if (!list) this.held.set(k, (list = []));
      list.push(m);
    }
  }

  /** Resumes `tps`: held messages come first, then fetching continues where they end. */
  resume(tps: readonly TopicPartition[]): void {
    this.ensureOpen("resume");
    this.checkPartitionErrors(tps, (list) => rdkafka().rd_kafka_resume_partitions(this.rk, list), "resume");
    const back: number[] = [];
    for (const t of tps) {
      const k = tpKey(t.topic, t.partition);
      this.paused.delete(k);
      const list = this.held.get(k);
      if (list) {
        this.held.delete(k);
        back.push(...list);
      }
    }
    this.buffer.unshift(back);
    if (back.length) this.wakeData();
  }

  /** Moves the fetch position of an assigned partition; buffered messages of it are discarded. */
  seek(tpo: TopicPartitionOffset): void {
    this.ensureOpen("seek");
    // timeout 0: librdkafka starts the seek and bumps the partition's version barrier before returning,
    // so no message fetched for the old position can reach the queue consumers after this call.
    const error = withTpList([tpo], (list) => rdkafka().rd_kafka_seek_partitions(this.rk, list, 0)) as number | null;
    checkErrorPtr(error, `seek ${tpo.topic}[${tpo.partition}]`);
    this.destroyMessages(this.extract(new Set([tpKey(tpo.topic, tpo.partition)])));
  }

  /** For each partition, the earliest offset whose timestamp is >= `timestamp` (-1 when there is none). */
  async offsetsForTimes(tps: ReadonlyArray<TopicPartition & { timestamp: number }>, timeoutMs = 10_000): Promise<TopicPartitionOffset[]> {
    this.ensureOpen("offsetsForTimes");
    const res = await this.blocking.run({
      op: "offsetsForTimes",
      rk: this.rk,
      tps: tps.map((t) => ({ topic: t.topic, partition: t.partition, offset: t.timestamp })),
      timeoutMs,
    });
    return res.map((e) => {
      if (e.err !== 0) throw errFromCode(e.err, `offsetsForTimes ${e.topic}[${e.partition}]`);
      return { topic: e.topic, partition: e.partition, offset: e.offset };
    });
  }

  /** The group's committed offsets for `tps` (-1001 where none is committed). */
  async committed(tps: readonly TopicPartition[], timeoutMs = 10_000): Promise<TopicPartitionOffset[]> {
    this.ensureOpen("committed");
    if (tps.length === 0) return [];
    const res = await this.blocking.run({ op: "committed", rk: this.rk, tps: tps.map((t) => ({ topic: t.topic, partition: t.partition })), timeoutMs });
    return res.map((e) => {
      if (e.err !== 0) throw errFromCode(e.err, `committed ${e.topic}[${e.partition}]`);
      return { topic: e.topic, partition: e.partition, offset: e.offset };
    });
  }

  /** Low and high watermarks queried from the partition leader. */
  watermarks(topic: string, partition: number, timeoutMs = 10_000): Promise<WatermarkOffsets> {
    this.ensureOpen("watermarks");
    return this.blocking.run({ op: "watermarks", rk: this.rk, topic, partition, timeoutMs });
  }

  /**
   * Watermarks as last seen by the fetcher, without a request (null while unknown). The high watermark is
   * updated by every fetch response of an assigned partition; the low one only with statistics enabled.
   */
  cachedWatermarks(topic: string, partition: number): WatermarkOffsets | null {
    this.ensureOpen("cachedWatermarks");
    const low = new BigInt64Array(1);
    const high = new BigInt64Array(1);
    const err = rdkafka().rd_kafka_get_watermark_offsets(this.rk, cstr(topic), partition, low, high);
    if (err !== 0 || high[0] === BigInt(RD_KAFKA_OFFSET_INVALID)) return null;
    return { low: Number(low[0]), high: Number(high[0]) };
  }

  /** Lag of every assigned partition: high watermark (cached, else queried) minus the committed offset. */
  async lag(timeoutMs = 10_000): Promise<PartitionLag[]> {
    const tps = this.assignment();
    const committed = await this.committed(tps, timeoutMs);
    return Promise.all(
      committed.map(async (c) => {
        const cached = this.cachedWatermarks(c.topic, c.partition);
        const hasCommit = c.offset >= 0;
        const wm = cached && (hasCommit || cached.low >= 0) ? cached : await this.watermarks(c.topic, c.partition, timeoutMs);
        const lag = hasCommit ? Math.max(0, wm.high - c.offset) : Math.max(0, wm.high - Math.max(0, wm.low));
        return { topic: c.topic, partition: c.partition, committed: c.offset, high: wm.high, lag };
      }),
    );
  }

  /** The partitions this member currently owns. */
  assignment(): TopicPartition[] {
    return [...this.owned.values()];
  }

  /** Messages this consumer holds (buffered, held for paused partitions, or in unreleased batches). */
  get outstandingMessages(): number {
    let n = this.buffer.size;
    for (const h of this.held.values()) n += h.length;
    for (const b of this.live) n += b.size;
    return n;
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
    const syncDeadline = Math.min(deadline, Date.now() + 10_000);
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
    this.wakeData();
    await this.blocking.drain();
    this.destroyMessages(this.buffer.takeAll());
    for (const h of this.held.values()) this.destroyMessages(h);
    this.held.clear();
    for (const b of [...this.live]) b.release();
    await this.commits.close();
    await this.waker.close();
    lib.rd_kafka_queue_destroy(this.queue);
    if (!this.destroyIsSafe() || this.blocking.stuck) {
      // Leaking beats crashing: see destroyIsSafe, and BlockingCalls.stuck (a worker thread may still use rk).
      leakedHandles.push(this.rk);
      return;
    }
    // The group was left above; NO_CONSUMER_CLOSE keeps destroy from doing it again (and blocking).
    lib.rd_kafka_destroy_flags(this.rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  }

  /**
   * librdkafka before 2.3.0 aborts the process (assertion in rd_kafka_sticky_assignor_state_destroy,
   * librdkafka#4312) when a cooperative-sticky member that joined the group but never completed a
   * SyncGroup is destroyed. Every completed sync produces an "assigned" event (possibly empty), so after
   * one the handle is safe to destroy. close() waits up to 10 s for it; failing that, the handle is left
   * alive (its group membership is already closed) rather than crash the process.
   */
  private destroyIsSafe(): boolean {
    return !this.cooperativeConfigured || !this.subscribed || this.everAssigned || rdkafka().rd_kafka_version() >= FIXED_STICKY_DESTROY;
  }

  /**
   * Takes events off the consumer queue without blocking: messages into the buffer (until it is full),
   * rebalances handed to handleRebalance (polling stops until that completes), errors to onError.
   */
  private pump(): void {
    if (this.state === "closed" || this.rebalancing) return;
    const lib = rdkafka();
    let added = false;
    while (this.buffer.size < this.maxBuffered) {
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
        this.buffer.push(m);
        added = true;
        continue;
      }
      const type = lib.rd_kafka_event_type(ev);
      if (type === EV.REBALANCE) {
        const done = this.handleRebalance(ev)
          .catch((err) => this.onError?.(err))
          .finally(() => {
            lib.rd_kafka_event_destroy(ev);
            this.rebalancing = null;
            this.pump();
          });
        this.rebalancing = done;
        break;
      }
      if (type === EV.ERROR) this.handleError(ev);
      lib.rd_kafka_event_destroy(ev);
    }
    if (added) this.wakeData();
  }

  private handleError(ev: number): void {
    const err = handleErrorEvent(ev, "consumer");
    if (err.code === "_PARTITION_EOF") return;
    if (err.fatal) {
      this.fatal ??= err;
      this.wakeData();
    }
    this.onError?.(err);
  }

  private async handleRebalance(ev: number): Promise<void> {
    const lib = rdkafka();
    const code = lib.rd_kafka_event_error(ev);
    const list = lib.rd_kafka_event_topic_partition_list(ev) as number;
    const partitions = readTpList(list).map(({ topic, partition }) => ({ topic, partition }));
    const cooperative = String(lib.rd_kafka_rebalance_protocol(this.rk)) === "COOPERATIVE";
    const protocol = cooperative ? "cooperative" : "eager";
    this.topics.clear();
    if (code === ERR_ASSIGN_PARTITIONS) {
      this.everAssigned = true;
      if (cooperative) checkErrorPtr(lib.rd_kafka_incremental_assign(this.rk, list) as number | null, "incremental_assign");
      else {
        check(lib.rd_kafka_assign(this.rk, list), "assign");
        this.owned.clear();
      }
      for (const p of partitions) this.owned.set(tpKey(p.topic, p.partition), p);
      await this.notify({ protocol, type: "assigned", partitions });
      return;
    }
    if (code === ERR_REVOKE_PARTITIONS) {
      const lost = lib.rd_kafka_assignment_lost(this.rk) !== 0;
      const keys = new Set(partitions.map((p) => tpKey(p.topic, p.partition)));
      this.destroyMessages(this.extract(keys));
      for (const k of keys) {
        const h = this.held.get(k);
        if (h) this.destroyMessages(h);
        this.held.delete(k);
        this.paused.delete(k);
      }
      await this.notify({ protocol, type: "revoked", partitions, ...(lost ? { lost } : {}) });
      if (cooperative) checkErrorPtr(lib.rd_kafka_incremental_unassign(this.rk, list) as number | null, "incremental_unassign");
      else check(lib.rd_kafka_assign(this.rk, null), "unassign");
      for (const k of keys) this.owned.delete(k);
      return;
    }
    // A rebalance error: drop the assignment (librdkafka then rejoins) and report it.
    this.destroyMessages(this.buffer.takeAll());
    if (cooperative) checkErrorPtr(lib.rd_kafka_incremental_unassign(this.rk, list) as number | null, "incremental_unassign");
    else lib.rd_kafka_assign(this.rk, null);
    this.owned.clear();
    this.onError?.(errFromCode(code, "rebalance"));
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

  private checkPartitionErrors(tps: readonly TopicPartition[], fn: (list: number) => number, what: string): void {
    withTpList(tps, (list) => {
      check(fn(list), what);
      const bad = readTpList(list).find((e) => e.err !== 0);
      if (bad) throw errFromCode(bad.err, `${what} ${bad.topic}[${bad.partition}]`);
    });
  }

  private keyOf(m: number): string {
    return tpKey(this.topics.get(read.ptr(m as never, MSG.rkt)), read.i32(m as never, MSG.partition));
  }

  /** Removes buffered messages of the partitions in `keys` (in order). */
  private extract(keys: ReadonlySet<string>): number[] {
    return this.buffer.extract((rkt, partition) => keys.has(tpKey(this.topics.get(rkt), partition)));
  }

  private destroyMessages(ms: readonly number[]): void {
    const lib = rdkafka();
    for (const m of ms) lib.rd_kafka_message_destroy(m);
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
