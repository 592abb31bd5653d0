/** Shared fixtures for the Kafka binding tests: a mock cluster per file, unique names, consume-until helpers. */
import { Consumer, type ConsumedMessage, type ConsumerOptions, type KafkaConfig, type RebalanceEvent } from "../../shared/kafka/index.ts";
import { uniqueName } from "../../dev/support/services.ts";

/** Consumer config for a fresh group reading from the beginning. */
export function consumerConfig(bootstraps: string, group: string, extra: KafkaConfig = {}): KafkaConfig {
  return {
    "bootstrap.servers": bootstraps,
    "group.id": group,
    "auto.offset.reset": "earliest",
    "session.timeout.ms": "6000",
    "heartbeat.interval.ms": "500",
    ...extra,
  };
}

/** A consumed message copied out of librdkafka's memory, key and header values decoded as text (for assertions). */
export interface CopiedMessage {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: string | null;
  value: Uint8Array | null;
  headers: Array<[string, string | null]> | null;
}

/** The text view of a consumed message, copied out of librdkafka's memory. */
function textMessage(m: ConsumedMessage): CopiedMessage {
  return {
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    timestamp: m.timestamp,
    key: m.key ? Buffer.from(m.key).toString() : null,
    value: m.value ? m.value.slice() : null, // key and headers are decoded into strings: copies already
    headers: m.headers ? m.headers.map(([k, v]) => [k, v ? Buffer.from(v).toString() : null]) : null,
  };
}

/** Consumes until `count` messages arrived or `timeoutMs` passed; returns copies. */
export async function consumeN(c: Consumer, count: number, timeoutMs = 30_000, onBatch?: (ms: CopiedMessage[]) => void | Promise<void>): Promise<CopiedMessage[]> {
  const out: CopiedMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < count && Date.now() < deadline) {
    const b = await c.consume(Math.min(10_000, count - out.length), 200);
    const ms = b.messages.map(textMessage);
    b.release();
    out.push(...ms);
    if (onBatch && ms.length) await onBatch(ms);
  }
  return out;
}

/** Creates a consumer that records its rebalance events. */
export function recordingConsumer(config: KafkaConfig, extra: Partial<ConsumerOptions> = {}): { consumer: Consumer; events: RebalanceEvent[]; errors: Error[] } {
  const events: RebalanceEvent[] = [];
  const errors: Error[] = [];
  const consumer = new Consumer({
    config,
    onRebalance: async (e) => {
      events.push(e);
      await extra.onRebalance?.(e);
    },
    onError: (e) => errors.push(e),
  });
  return { consumer, events, errors };
}

export { uniqueName };
