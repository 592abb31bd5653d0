/**
 * Offset commits with results through the event API: every commit goes through rd_kafka_commit_queue onto a
 * private queue (its own wake-up pipe), tagged with an opaque id, and its promise settles from the
 * matching RD_KAFKA_EVENT_OFFSET_COMMIT event. The private queue keeps commit results flowing even while
 * the consumer queue is not being polled (a full fetch buffer under backpressure).
 */
import { KafkaError, closedError } from "../errors.ts";
import { rdkafka } from "../ffi/lib.ts";
import { EV } from "../client/handle.ts";
import { errFromCode, errName } from "../client/rd-errors.ts";
import { readTpList, withTpList } from "../client/tplist.ts";
import { QueueWaker } from "../client/waker.ts";
import type { TopicPartitionOffset } from "../types.ts";

/** Issues commits and matches their results. */
export class CommitTracker {
  private readonly queue: number;
  private readonly waker: QueueWaker;
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: KafkaError) => void }>();
  private nextId = 1;

  constructor(
    private readonly rk: number,
    onError?: (err: Error) => void,
  ) {
    this.queue = rdkafka().rd_kafka_queue_new(rk) as number;
    this.waker = new QueueWaker(this.queue, () => this.serve(), 500, onError);
  }

  /** One commit attempt of explicit offsets (offset = next message to consume). */
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const err = withTpList(offsets, (list) => rdkafka().rd_kafka_commit_queue(this.rk, list, this.queue, null, id));
      if (err !== 0) {
        this.pending.delete(id);
        reject(errFromCode(err, "commit"));
      }
    });
  }

  /** Settles commits whose results arrived. */
  serve(): void {
    const lib = rdkafka();
    for (;;) {
      const ev = lib.rd_kafka_queue_poll(this.queue, 0) as number | null;
      if (!ev) return;
      if (lib.rd_kafka_event_type(ev) === EV.OFFSET_COMMIT) {
        const id = lib.rd_kafka_event_opaque(ev) as number;
        const p = this.pending.get(id);
        if (p) {
          this.pending.delete(id);
          const err = this.resultError(ev);
          if (err) p.reject(err);
          else p.resolve();
        }
      }
      lib.rd_kafka_event_destroy(ev);
    }
  }

  /** The commit's error: the request-level one, else the first failed partition's. */
  private resultError(ev: number): KafkaError | null {
    const lib = rdkafka();
    const code = lib.rd_kafka_event_error(ev);
    const parts = readTpList(lib.rd_kafka_event_topic_partition_list(ev) as number);
    const failed = parts.filter((p) => p.err !== 0);
    if (code === 0 && failed.length === 0) return null;
    const first = failed[0];
    const base = errFromCode(code !== 0 ? code : first.err, "commit");
    return new KafkaError(base.code, base.message, {
      retriable: base.retriable,
      errno: base.errno,
      context: { failed: failed.map((p) => `${p.topic}[${p.partition}]@${p.offset}: ${errName(p.err)}`) },
    });
  }

  /** Rejects every commit still waiting and stops the wake-ups. */
  async close(): Promise<void> {
    this.serve();
    for (const p of this.pending.values()) p.reject(closedError("commit"));
    this.pending.clear();
    await this.waker.close();
    rdkafka().rd_kafka_queue_destroy(this.queue);
  }
}
