/**
 * Rule 1 of retention.ts, observed live: while a pipeline consumes, poll each source partition's low
 * watermark and the consumer group's committed offset; a low watermark above the committed offset means the
 * broker deleted messages the pipeline had not processed yet. Every such observation is kept (the audit turns
 * them into an invalid run) and reported at once through `onViolation` so a benchmark can stop early.
 */
import { Consumer } from "../kafka/index.ts";
import type { KafkaConfig } from "../kafka/types.ts";

/** Polls watermarks vs committed offsets of `group` on `topic` every `intervalMs` until stop(). */
export class RetentionWatcher {
  readonly observed: string[] = [];
  /** Sum of the group's committed offsets at the last observation (progress, for live output). */
  committedTotal = 0;
  /** Epoch ms of the first observation at which committedTotal reached `target` (null until then). */
  reachedAt: number | null = null;
  private readonly consumer: Consumer;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private polling: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly o: {
      config: KafkaConfig;
      topic: string;
      group: string;
      partitions: readonly number[];
      intervalMs?: number;
      /** Committed total to time (see reachedAt): on a fresh topic, the number of messages to process. */
      target?: number;
      onViolation?: (what: string) => void;
      onError?: (err: unknown) => void;
    },
  ) {
    // A handle of the group that never subscribes: it only reads the group's committed offsets.
    this.consumer = new Consumer({ config: { ...o.config, "group.id": o.group } });
  }

  /** Starts polling. */
  start(): this {
    const tick = () => {
      this.polling = this.check()
        .catch((err) => this.o.onError?.(err))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.o.intervalMs ?? 1000);
        });
    };
    tick();
    return this;
  }

  /** One observation of every partition. */
  async check(): Promise<void> {
    const { topic, partitions } = this.o;
    const committed = await this.consumer.committed(partitions.map((partition) => ({ topic, partition })));
    this.committedTotal = committed.reduce((n, c) => n + Math.max(0, c.offset), 0);
    if (this.reachedAt === null && this.o.target !== undefined && this.committedTotal >= this.o.target) this.reachedAt = Date.now();
    for (const c of committed) {
      const { low } = await this.consumer.watermarks(topic, c.partition);
      // Nothing committed yet: the group will start at the low watermark, so anything below it is gone unread.
      const next = c.offset >= 0 ? c.offset : 0;
      if (low > next) {
        const what = `p${c.partition} low=${low} > committed=${c.offset < 0 ? "none" : c.offset}`;
        this.observed.push(what);
        this.o.onViolation?.(what);
      }
    }
  }

  /** Stops polling (after a last observation) and closes the handle. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
    await this.check().catch((err) => this.o.onError?.(err));
    await this.consumer.close();
  }
}
