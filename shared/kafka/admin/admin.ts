/**
 * Topic administration: CreateTopics / DeleteTopics through librdkafka's Admin API with results as events
 * on a private queue (woken by a pipe, like every other queue here), and topic listing from metadata
 * (a blocking call, run on the blocking-call worker).
 */
import { read } from "bun:ffi";
import { KafkaError, closedError } from "../errors.ts";
import { rdkafka } from "../ffi/lib.ts";
import { cstr, readCString, readErrstr } from "../ffi/memory.ts";
import { BlockingCalls } from "../client/blocking.ts";
import { RD_KAFKA_PRODUCER, createHandle, destroyHandle } from "../client/handle.ts";
import { errFromCode } from "../client/rd-errors.ts";
import { QueueWaker } from "../client/waker.ts";
import type { AdminOptions, NewTopicSpec, TopicMetadata } from "../types.ts";

const ADMIN_OP_CREATETOPICS = 1;
const ADMIN_OP_DELETETOPICS = 2;
const ERRSTR_SIZE = 512;

type Pending = { resolve: (ev: number) => void };

/** Creates, deletes and lists topics. */
export class Admin {
  private readonly rk: number;
  private readonly queue: number;
  private readonly waker: QueueWaker;
  private readonly blocking = new BlockingCalls();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(opts: AdminOptions) {
    // No events enabled on the main queue, which nobody polls here: librdkafka logs client errors instead.
    this.rk = createHandle(RD_KAFKA_PRODUCER, opts.config, 0);
    this.queue = rdkafka().rd_kafka_queue_new(this.rk) as number;
    this.waker = new QueueWaker(this.queue, () => this.serve(), 500);
  }

  /** Creates topics; rejects with the first per-topic error (e.g. TOPIC_ALREADY_EXISTS) after all are answered. */
  async createTopics(topics: readonly NewTopicSpec[], timeoutMs = 30_000): Promise<void> {
    this.ensureOpen("createTopics");
    const lib = rdkafka();
    const errstr = Buffer.alloc(ERRSTR_SIZE);
    const objs: number[] = [];
    try {
      for (const t of topics) {
        const nt = lib.rd_kafka_NewTopic_new(cstr(t.name), t.partitions, t.replicationFactor ?? 1, errstr, ERRSTR_SIZE) as number | null;
        if (!nt) throw new KafkaError("_INVALID_ARG", `createTopics ${t.name}: ${readErrstr(errstr)}`, { retriable: false });
        objs.push(nt);
        for (const [k, v] of Object.entries(t.configs ?? {})) {
          const err = lib.rd_kafka_NewTopic_set_config(nt, cstr(k), cstr(v));
          if (err !== 0) throw errFromCode(err, `createTopics ${t.name}: config ${k}`);
        }
      }
      const ev = await this.request(ADMIN_OP_CREATETOPICS, timeoutMs, (arr, n, options) => lib.rd_kafka_CreateTopics(this.rk, arr, n, options, this.queue), objs);
      this.checkTopicResults(ev, "createTopics", (e) => lib.rd_kafka_CreateTopics_result_topics(lib.rd_kafka_event_CreateTopics_result(e), cntOut));
    } finally {
      for (const o of objs) lib.rd_kafka_NewTopic_destroy(o);
    }
  }

  /** Deletes topics; rejects with the first per-topic error (e.g. UNKNOWN_TOPIC_OR_PART). */
  async deleteTopics(names: readonly string[], timeoutMs = 30_000): Promise<void> {
    this.ensureOpen("deleteTopics");
    const lib = rdkafka();
    const objs = names.map((n) => lib.rd_kafka_DeleteTopic_new(cstr(n)) as number);
    try {
      const ev = await this.request(ADMIN_OP_DELETETOPICS, timeoutMs, (arr, n, options) => lib.rd_kafka_DeleteTopics(this.rk, arr, n, options, this.queue), objs);
      this.checkTopicResults(ev, "deleteTopics", (e) => lib.rd_kafka_DeleteTopics_result_topics(lib.rd_kafka_event_DeleteTopics_result(e), cntOut));
    } finally {
      for (const o of objs) lib.rd_kafka_DeleteTopic_destroy(o);
    }
  }

  /** Every topic in the cluster with its partition ids (internal topics included). */
  async listTopics(timeoutMs = 10_000): Promise<TopicMetadata[]> {
    this.ensureOpen("listTopics");
    const md = await this.blocking.run({ op: "metadata", rk: this.rk, timeoutMs });
    return md.filter((t) => t.err === 0).map((t) => ({ name: t.name, partitions: t.partitions }));
  }

  /** Waits for calls in flight, then destroys the handle. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.blocking.drain();
    this.serve();
    await this.waker.close();
    const lib = rdkafka();
    lib.rd_kafka_queue_destroy(this.queue);
    // A blocking call that never returned may still be using the handle on its thread: leak it instead.
    if (!this.blocking.stuck) await destroyHandle(this.rk);
  }

  /** Issues one admin request with an opaque id and resolves with its result event (caller destroys it). */
  private request(api: number, timeoutMs: number, call: (arr: BigUint64Array, n: number, options: number) => void, objs: number[]): Promise<number> {
    const lib = rdkafka();
    const id = this.nextId++;
    const options = lib.rd_kafka_AdminOptions_new(this.rk, api) as number;
    const errstr = Buffer.alloc(ERRSTR_SIZE);
    lib.rd_kafka_AdminOptions_set_request_timeout(options, timeoutMs, errstr, ERRSTR_SIZE);
    lib.rd_kafka_AdminOptions_set_operation_timeout(options, timeoutMs, errstr, ERRSTR_SIZE);
    lib.rd_kafka_AdminOptions_set_opaque(options, id);
    const arr = BigUint64Array.from(objs.map((o) => BigInt(o)));
    return new Promise<number>((resolve) => {
      this.pending.set(id, { resolve });
      // The request copies the NewTopic/DeleteTopic objects and the options, so both can be freed after.
      call(arr, objs.length, options);
      lib.rd_kafka_AdminOptions_destroy(options);
    });
  }

  private serve(): void {
    const lib = rdkafka();
    for (;;) {
      const ev = lib.rd_kafka_queue_poll(this.queue, 0) as number | null;
      if (!ev) return;
      const p = this.pending.get(lib.rd_kafka_event_opaque(ev) as number);
      if (!p) {
        lib.rd_kafka_event_destroy(ev);
        continue;
      }
      this.pending.delete(lib.rd_kafka_event_opaque(ev) as number);
      p.resolve(ev);
    }
  }

  /** Throws the request-level error or the first per-topic error of an admin result event, then frees it. */
  private checkTopicResults(ev: number, what: string, topicsOf: (ev: number) => unknown): void {
    const lib = rdkafka();
    try {
      const code = lib.rd_kafka_event_error(ev);
      if (code !== 0) throw errFromCode(code, what, { detail: String(lib.rd_kafka_event_error_string(ev)) });
      const arr = topicsOf(ev) as number;
      const n = Number(cntOut[0]);
      for (let i = 0; i < n; i++) {
        const tr = read.ptr(arr as never, i * 8);
        const err = lib.rd_kafka_topic_result_error(tr);
        if (err !== 0) {
          const name = String(lib.rd_kafka_topic_result_name(tr));
          throw errFromCode(err, `${what} ${name}`, { detail: readCString(lib.rd_kafka_topic_result_error_string(tr) as number) ?? undefined });
        }
      }
    } finally {
      lib.rd_kafka_event_destroy(ev);
    }
  }

  private ensureOpen(what: string): void {
    if (this.closed) throw closedError(`Admin.${what}`);
  }
}

const cntOut = new BigUint64Array(1);
