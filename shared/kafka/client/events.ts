/** Reading the generic parts of librdkafka events (the event API) into JS values. */
import { rdkafka } from "../ffi/lib.ts";
import type { KafkaError } from "../errors.ts";
import { errFromCode } from "./rd-errors.ts";

/** Converts an RD_KAFKA_EVENT_ERROR event into a KafkaError (the event stays owned by the caller). */
export function handleErrorEvent(ev: number, who: string): KafkaError {
  const lib = rdkafka();
  const code = lib.rd_kafka_event_error(ev);
  const fatal = lib.rd_kafka_event_error_is_fatal(ev) !== 0;
  const detail = String(lib.rd_kafka_event_error_string(ev));
  return errFromCode(code, `${who} error`, { fatal, detail });
}
