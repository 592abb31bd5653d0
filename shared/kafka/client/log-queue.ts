/**
 * librdkafka's log lines as events: every handle is created with `log.queue=true`, and its log queue is
 * forwarded to a queue of ours that the JS thread drains (RD_KAFKA_EVENT_LOG), so librdkafka never calls a
 * log callback from its own threads and never prints to stderr. Each line goes to the process's Kafka
 * logger (log-sink.ts) with the syslog level mapped to pino's, the facility, the client name and the
 * broker in fields; repeats are rate-limited (log-rate-limit.ts).
 */
import { read } from "bun:ffi";
import { rdkafka } from "../ffi/lib.ts";
import { readCString } from "../ffi/memory.ts";
import { LogRateLimiter } from "./log-rate-limit.ts";
import { kafkaLogger, pinoLevelOf } from "./log-sink.ts";
import { QueueWaker } from "./waker.ts";

/** rdkafka.h RD_KAFKA_EVENT_LOG. */
const EVENT_LOG = 0x4;
/** Log latency does not matter; the pipe wakes us anyway, this is only the safety net. */
const SAFETY_POLL_MS = 1000;
/** At most this many lines per wake-up, so a log storm cannot starve the event loop. */
const MAX_PER_DRAIN = 1000;

/** "host:port/id: rest" (librdkafka's broker prefix, optionally with a protocol) or "GroupCoordinator[/id]: rest". */
const BROKER_PREFIX = /^((?:[a-z_]+:\/\/)?[^\s/]+:\d+\/[\w-]+|GroupCoordinator(?:\/\d+)?): /;

/** One librdkafka log line, as read from its event. */
export interface KafkaLogLine {
  /** syslog level (0 emerg .. 7 debug). */
  level: number;
  /** librdkafka's facility, e.g. FAIL, CONFWARN, REQTMOUT. */
  fac: string;
  /** The text without the broker prefix. */
  message: string;
  /** The broker the line is about, when librdkafka named one. */
  broker: string | null;
}

/** Splits librdkafka's "broker: text" prefix off a log line. */
export function parseLogLine(level: number, fac: string, text: string): KafkaLogLine {
  const m = BROKER_PREFIX.exec(text);
  return m ? { level, fac, message: text.slice(m[0].length), broker: m[1] } : { level, fac, message: text, broker: null };
}

/** The log queue of one handle. */
class HandleLogQueue {
  private readonly queue: number;
  private readonly waker: QueueWaker;
  private readonly limiter = new LogRateLimiter<KafkaLogLine>();
  private readonly client: string;
  private readonly fac = new BigUint64Array(1);
  private readonly str = new BigUint64Array(1);
  private readonly level = new Int32Array(1);

  constructor(rk: number) {
    const lib = rdkafka();
    this.client = String(lib.rd_kafka_name(rk));
    this.queue = lib.rd_kafka_queue_new(rk) as number;
    // Lines logged inside rd_kafka_new (CONFWARN, …) wait in librdkafka's own log queue and move over here.
    lib.rd_kafka_set_log_queue(rk, this.queue);
    this.waker = new QueueWaker(this.queue, () => this.drain(), SAFETY_POLL_MS);
  }

  /** Logs what is queued now. */
  drain(): void {
    const lib = rdkafka();
    for (let i = 0; i < MAX_PER_DRAIN; i++) {
      const ev = lib.rd_kafka_queue_poll(this.queue, 0) as number | null;
      if (!ev) return;
      try {
        if (lib.rd_kafka_event_type(ev) === EVENT_LOG && lib.rd_kafka_event_log(ev, this.fac, this.str, this.level) === 0) {
          const fac = readCString(Number(this.fac[0])) ?? "";
          const text = readCString(Number(this.str[0])) ?? "";
          this.emit(parseLogLine(this.level[0], fac, text));
        }
      } finally {
        lib.rd_kafka_event_destroy(ev);
      }
    }
  }

  private emit(line: KafkaLogLine): void {
    const suppressed = this.limiter.admit(line);
    if (suppressed === null) return;
    const fields = this.fields(line);
    if (suppressed > 0) fields.suppressed = suppressed;
    kafkaLogger()[pinoLevelOf(line.level)](fields, line.message);
  }

  private fields(line: KafkaLogLine): Record<string, unknown> {
    return { kafka: { fac: line.fac, client: this.client, ...(line.broker ? { broker: line.broker } : {}) } };
  }

  /** Logs the rest, says how many repeats were held back, and detaches the queue (before rd_kafka_destroy). */
  async close(): Promise<void> {
    this.drain();
    for (const { last, suppressed } of this.limiter.drainSuppressed()) {
      kafkaLogger()[pinoLevelOf(last.level)]({ ...this.fields(last), suppressed }, `${suppressed} more like this were not logged; the last: ${last.message}`);
    }
    await this.waker.close();
    // librdkafka still forwards to this queue while the handle is destroyed; it keeps its own reference.
    rdkafka().rd_kafka_queue_destroy(this.queue);
  }
}

const queues = new Map<number, HandleLogQueue>();

/** Starts serving the log events of a handle created with log.queue=true. */
export function attachLogQueue(rk: number): void {
  queues.set(rk, new HandleLogQueue(rk));
}

/** Flushes and detaches a handle's log queue; call right before destroying the handle. */
export async function detachLogQueue(rk: number): Promise<void> {
  const q = queues.get(rk);
  if (!q) return;
  queues.delete(rk);
  await q.close();
}
