/** Copying a consumed message out of librdkafka's memory, so it outlives the release of its batch. */
import type { ConsumedMessage } from "../types.ts";

/** The message with its key and value copied (its headers are copies already, see ConsumedMessage). */
export function detachMessage(m: ConsumedMessage): ConsumedMessage {
  return {
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    timestamp: m.timestamp,
    key: m.key ? m.key.slice() : null,
    value: m.value ? m.value.slice() : null,
    headers: m.headers,
  };
}
