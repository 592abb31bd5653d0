/**
 * Wakes the JS event loop when a librdkafka queue has something to serve, without blocking and without
 * spinning: librdkafka writes one byte to a non-blocking pipe when the queue goes from empty to non-empty
 * (rd_kafka_queue_io_event_enable), and we read the pipe through Bun.file(fd).stream() (node:net sockets
 * and fs.createReadStream do not work on such an fd in Bun 1.4.5, see NOTES.md). librdkafka re-arms the
 * write only after the queue has been served, so every wake-up must drain the queue. A slow timer is the
 * safety net for a missed wake-up; it costs a couple of FFI calls per tick.
 */
import { KafkaError } from "../errors.ts";
import { rdkafka } from "../ffi/lib.ts";
import { closeFd, openWakePipe } from "../ffi/libc.ts";

const WAKE_BYTE = Buffer.from([1]);
/** Polling period once the pipe has failed (see readLoop). */
const FALLBACK_POLL_MS = 10;

/** Calls `serve` whenever `queue` may have become non-empty, plus every `safetyMs` milliseconds. */
export class QueueWaker {
  private readonly readFd: number;
  private readonly writeFd: number;
  private readonly reader: { read(): Promise<{ done: boolean }>; cancel(): Promise<void> };
  private timer: ReturnType<typeof setInterval>;
  private closed = false;

  constructor(
    private readonly queue: number,
    private readonly serve: () => void,
    safetyMs = 250,
    private readonly onError?: (err: Error) => void,
  ) {
    [this.readFd, this.writeFd] = openWakePipe();
    // librdkafka copies the payload bytes, so WAKE_BYTE need not outlive this call.
    rdkafka().rd_kafka_queue_io_event_enable(queue, this.writeFd, WAKE_BYTE, 1);
    this.reader = Bun.file(this.readFd).stream().getReader();
    this.timer = setInterval(() => this.fire(), safetyMs);
    void this.readLoop();
    // Anything enqueued before io events were enabled produced no byte: serve once now.
    queueMicrotask(() => this.fire());
  }

  private async readLoop(): Promise<void> {
    for (;;) {
      let done: boolean;
      try {
        ({ done } = await this.reader.read());
      } catch (err) {
        if (!this.closed) this.degrade(err);
        return;
      }
      if (this.closed) return;
      if (done) return this.degrade(new Error("end of stream"));
      this.fire();
    }
  }

  /** The pipe stopped working: keep the client alive by polling often, and say so. */
  private degrade(cause: unknown): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => this.fire(), FALLBACK_POLL_MS);
    this.onError?.(
      new KafkaError("_FAIL", `librdkafka wake-up pipe failed; polling every ${FALLBACK_POLL_MS} ms instead`, { retriable: true, cause }),
    );
  }

  private fire(): void {
    if (!this.closed) this.serve();
  }

  /** Stops wake-ups: detaches the fd from the queue first so librdkafka never writes to a closed fd. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    rdkafka().rd_kafka_queue_io_event_enable(this.queue, -1, null, 0);
    // Cancelling can only fail if the stream already errored, which degrade() has reported.
    await this.reader.cancel().catch(() => undefined);
    closeFd(this.readFd);
    closeFd(this.writeFd);
  }
}
