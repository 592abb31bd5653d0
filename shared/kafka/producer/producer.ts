/**
 * Kafka producer over librdkafka's rd_kafka_produceva with delivery reports through the event API: DR events
 * land on the main queue, a wake-up pipe tells the event loop, and we poll the queue from JS. No librdkafka
 * callbacks ever run JS code.
 *
 * Each message carries an opaque (slot * 2^32 + index) that maps its delivery report back to the batch and
 * the record's position; a batch's promise settles when every message of it has a report.
 */
import { read } from "bun:ffi";
import { KafkaError, closedError, type DeliveryFailure } from "../errors.ts";
import { rdkafka } from "../ffi/lib.ts";
import { MSG, cstr } from "../ffi/memory.ts";
import { EV, RD_KAFKA_PRODUCER, createHandle, destroyHandle } from "../client/handle.ts";
import { errFromCode, errFromErrorPtr } from "../client/rd-errors.ts";
import { QueueWaker } from "../client/waker.ts";
import { handleErrorEvent } from "../client/events.ts";
import type { ProduceRecord, ProducerOptions } from "../types.ts";
import { RecordEncoder } from "./encoder.ts";

const TWO32 = 4294967296;
const MAX_SLOT = 1 << 20; // slot * 2^32 + index stays below 2^53
const RD_KAFKA_RESP_ERR__QUEUE_FULL = -184;
const RD_KAFKA_PURGE_F_QUEUE = 0x1;
const RD_KAFKA_PURGE_F_INFLIGHT = 0x2;
/** Upper bound on events served per wake-up before yielding to the event loop. */
const MAX_EVENTS_PER_SERVE = 2000;
const DR_ARRAY_SIZE = 4096;
/** Longest wait for a delivery report before the producer looks again (a report normally wakes it sooner). */
const PROGRESS_POLL_MS = 100;

interface PendingBatch {
  remaining: number;
  total: number;
  failures: DeliveryFailure[] | null;
  resolve: () => void;
  reject: (err: KafkaError) => void;
}

/** Produces records and reports their delivery as one promise per batch. */
export class Producer {
  private rk: number;
  private readonly mainQueue: number;
  private readonly waker: QueueWaker;
  private readonly encoder = new RecordEncoder();
  private readonly topics = new Map<string, number>();
  private readonly batches = new Map<number, PendingBatch>();
  private nextSlot = 1;
  private readonly drArray = new BigUint64Array(DR_ARRAY_SIZE);
  private readonly drView = new Uint32Array(this.drArray.buffer);
  /** Resolvers waiting for delivery progress (queue full, flush). */
  private progressWaiters: Array<() => void> = [];
  private fatal: KafkaError | null = null;
  /** The enqueue loop in progress, if any (see sendBatch). */
  private enqueuing: Promise<void> | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;
  private readonly onError?: (err: Error) => void;

  constructor(opts: ProducerOptions) {
    this.onError = opts.onError;
    this.rk = createHandle(RD_KAFKA_PRODUCER, opts.config, EV.DR | EV.ERROR);
    this.mainQueue = rdkafka().rd_kafka_queue_get_main(this.rk) as number;
    this.waker = new QueueWaker(this.mainQueue, () => this.serve(), 250, (err) => this.onError?.(err));
  }

  /** Produces one record; resolves when Kafka acknowledged it. */
  send(record: ProduceRecord): Promise<void> {
    return this.sendBatch([record]);
  }

  /**
   * Produces `records` in order; resolves when every one is acknowledged, or rejects with a DELIVERY_FAILED
   * KafkaError whose `failures` lists each failed record's index and error. A full local queue
   * (_QUEUE_FULL) is waited out, not reported.
   */
  async sendBatch(records: readonly ProduceRecord[]): Promise<void> {
    if (this.closed) throw closedError("sendBatch");
    if (this.fatal) throw this.fatal;
    if (records.length === 0) return;
    const slot = this.allocSlot();
    let batch!: PendingBatch;
    const done = new Promise<void>((resolve, reject) => {
      batch = { remaining: records.length, total: records.length, failures: null, resolve, reject };
    });
    this.batches.set(slot, batch);
    // Batches are enqueued one after the other, in call order, even when one waits for queue space: so
    // records of concurrent sendBatch calls keep their call order within each partition.
    const previous = this.enqueuing;
    const run = previous ? previous.then(() => this.enqueue(records, slot, batch)) : this.enqueue(records, slot, batch);
    this.enqueuing = run;
    void run.then(() => {
      if (this.enqueuing === run) this.enqueuing = null;
    });
    await run;
    return done;
  }

  /** Hands every record to librdkafka (never throws: a record that cannot be enqueued is a failure of its batch). */
  private async enqueue(records: readonly ProduceRecord[], slot: number, batch: PendingBatch): Promise<void> {
    const lib = rdkafka();
    const base = slot * TWO32;
    let i = 0;
    while (i < records.length) {
      const rec = records[i];
      let error: number | null;
      try {
        const n = this.encoder.encode(rec, this.topicHandle(rec.topic), base + i);
        error = lib.rd_kafka_produceva(this.rk, this.encoder.vusPtr, n);
      } catch (err) {
        this.recordFailure(batch, i++, err instanceof KafkaError ? err : new KafkaError("_INVALID_ARG", `produce to ${rec.topic}: ${String(err)}`, { retriable: false, cause: err }));
        continue;
      }
      if (!error) {
        i++;
        continue;
      }
      if (lib.rd_kafka_error_code(error) === RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        lib.rd_kafka_error_destroy(error);
        // The local queue is full: let delivery reports drain it, then retry the same record.
        this.serve();
        await this.waitForProgress(PROGRESS_POLL_MS);
        if (this.closed) {
          this.failRest(batch, i, records.length, closedError("sendBatch"));
          break;
        }
        continue;
      }
      // Not enqueued (unknown partition, message too large, fatal state...): it fails alone, the rest go on.
      this.recordFailure(batch, i, errFromErrorPtr(error, `produce to ${rec.topic}`));
      i++;
    }
    this.settleIfDone(slot, batch);
  }

  /** Resolves when every queued message has been delivered (or failed); rejects with _TIMED_OUT after `timeoutMs`. */
  async flush(timeoutMs = 30_000): Promise<void> {
    if (this.closed) throw closedError("flush");
    const deadline = Date.now() + timeoutMs;
    const lib = rdkafka();
    for (;;) {
      this.serve();
      if (lib.rd_kafka_outq_len(this.rk) === 0 && this.batches.size === 0) return;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new KafkaError("_TIMED_OUT", `flush: ${lib.rd_kafka_outq_len(this.rk)} message(s) still in flight after ${timeoutMs} ms`, {
          retriable: true,
        });
      }
      await this.waitForProgress(Math.min(left, PROGRESS_POLL_MS));
    }
  }

  /** Number of messages queued or in flight (rd_kafka_outq_len). */
  get inFlight(): number {
    return this.closed ? 0 : rdkafka().rd_kafka_outq_len(this.rk);
  }

  /**
   * Flushes for up to `timeoutMs`, then purges whatever is left (its batches reject with `_PURGE_QUEUE` /
   * `_PURGE_INFLIGHT`) and destroys the handle.
   */
  close(timeoutMs = 30_000): Promise<void> {
    return (this.closing ??= this.doClose(timeoutMs));
  }

  private async doClose(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    const lib = rdkafka();
    try {
      await this.flush(timeoutMs);
    } catch {
      // Flush timed out: purge below fails the remaining messages through their delivery reports.
      lib.rd_kafka_purge(this.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      const until = Date.now() + 5_000;
      while (this.batches.size > 0 && Date.now() < until) {
        this.serve();
        await this.waitForProgress(50);
      }
    }
    this.closed = true;
    await this.waker.close();
    for (const b of this.batches.values()) b.reject(closedError("delivery"));
    this.batches.clear();
    this.wakeProgress();
    for (const rkt of this.topics.values()) lib.rd_kafka_topic_destroy(rkt);
    this.topics.clear();
    lib.rd_kafka_queue_destroy(this.mainQueue);
    await destroyHandle(this.rk);
    this.rk = 0;
  }

  /** Drains the main queue: delivery reports settle batches, errors go to onError. Never blocks. */
  private serve(): void {
    if (this.closed) return;
    const lib = rdkafka();
    let progressed = false;
    for (let n = 0; n < MAX_EVENTS_PER_SERVE; n++) {
      const ev = lib.rd_kafka_queue_poll(this.mainQueue, 0) as number | null;
      if (!ev) break;
      const type = lib.rd_kafka_event_type(ev);
      if (type === EV.DR) {
        this.handleDeliveryReports(ev);
        progressed = true;
      } else if (type === EV.ERROR) {
        const err = handleErrorEvent(ev, this.rk, "producer");
        if (err.fatal) this.fatal ??= err;
        this.onError?.(err);
      }
      lib.rd_kafka_event_destroy(ev);
      if (n === MAX_EVENTS_PER_SERVE - 1) setImmediate(() => this.serve());
    }
    if (progressed) this.wakeProgress();
  }

  private handleDeliveryReports(ev: number): void {
    const lib = rdkafka();
    const arr = this.drArray;
    const view = this.drView;
    let slot = -1;
    let batch: PendingBatch | undefined;
    for (;;) {
      // message_array continues where the previous call stopped (it iterates rd_kafka_event_message_next).
      const cnt = lib.rd_kafka_event_message_array(ev, arr, DR_ARRAY_SIZE) as number;
      if (cnt === 0) break;
      for (let j = 0; j < cnt; j++) {
        const m = view[2 * j] + view[2 * j + 1] * TWO32;
        const err = read.i32(m as never, MSG.err);
        const opaque = read.ptr(m as never, MSG.opaque);
        const s = Math.floor(opaque / TWO32);
        if (s !== slot) {
          if (batch) this.settleIfDone(slot, batch);
          slot = s;
          batch = this.batches.get(s);
        }
        if (!batch) continue; // a batch already rejected by close()
        batch.remaining--;
        if (err !== 0) this.recordFailure(batch, opaque - s * TWO32, errFromCode(err, "delivery failed"), false);
      }
    }
    if (batch) this.settleIfDone(slot, batch);
  }

  private recordFailure(batch: PendingBatch, index: number, error: KafkaError, countDown = true): void {
    if (countDown) batch.remaining--;
    (batch.failures ??= []).push({ index, error });
  }

  private failRest(batch: PendingBatch, from: number, to: number, error: KafkaError): void {
    for (let i = from; i < to; i++) this.recordFailure(batch, i, error);
  }

  private settleIfDone(slot: number, batch: PendingBatch): void {
    if (batch.remaining > 0 || !this.batches.has(slot)) return;
    this.batches.delete(slot);
    const failures = batch.failures;
    if (!failures) return batch.resolve();
    failures.sort((a, b) => a.index - b.index);
    const first = failures[0].error;
    batch.reject(
      new KafkaError("DELIVERY_FAILED", `${failures.length} of ${batch.total} message(s) not delivered; first: #${failures[0].index} ${first.message}`, {
        retriable: failures.every((f) => f.error.retriable),
        fatal: failures.some((f) => f.error.fatal),
        failures,
        cause: first,
        context: { failed: failures.length, total: batch.total, codes: [...new Set(failures.map((f) => f.error.code))] },
      }),
    );
  }

  private allocSlot(): number {
    for (let tries = 0; tries < MAX_SLOT; tries++) {
      const s = this.nextSlot;
      this.nextSlot = s + 1 >= MAX_SLOT ? 1 : s + 1;
      if (!this.batches.has(s)) return s;
    }
    throw new KafkaError("_QUEUE_FULL", `more than ${MAX_SLOT} batches in flight`, { retriable: true });
  }

  /** A cached rd_kafka_topic_t per topic name (destroyed in close). */
  private topicHandle(topic: string): number {
    let rkt = this.topics.get(topic);
    if (rkt === undefined) {
      rkt = rdkafka().rd_kafka_topic_new(this.rk, cstr(topic), null) as number;
      if (!rkt) throw new KafkaError("_INVALID_ARG", `cannot create a topic handle for "${topic}"`, { retriable: false });
      this.topics.set(topic, rkt);
    }
    return rkt;
  }

  private waitForProgress(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.progressWaiters.push(done);
    });
  }

  private wakeProgress(): void {
    if (this.progressWaiters.length === 0) return;
    const ws = this.progressWaiters;
    this.progressWaiters = [];
    for (const w of ws) w();
  }
}
