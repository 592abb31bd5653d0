/** Reading the generic parts of librdkafka events (the event API) into JS values. */
import { rdkafka } from "../ffi/lib.ts";
import { readErrstr } from "../ffi/memory.ts";
import type { KafkaError } from "../errors.ts";
import { errFromCode } from "./rd-errors.ts";

const ERRSTR_SIZE = 512;

/**
 * Converts an RD_KAFKA_EVENT_ERROR event into a KafkaError (the event stays owned by the caller). A fatal
 * error arrives as the generic _FATAL; rd_kafka_fatal_error() tells the underlying code and reason, which
 * is what the error then carries.
 */
export function handleErrorEvent(ev: number, rk: number, who: string): KafkaError {
  const lib = rdkafka();
  const code = lib.rd_kafka_event_error(ev);
  const fatal = lib.rd_kafka_event_error_is_fatal(ev) !== 0;
  if (fatal) {
    const errstr = Buffer.alloc(ERRSTR_SIZE);
    const underlying = lib.rd_kafka_fatal_error(rk, errstr, ERRSTR_SIZE);
    if (underlying !== 0) return errFromCode(underlying, `${who} fatal error`, { fatal, detail: readErrstr(errstr) });
  }
  return errFromCode(code, `${who} error`, { fatal, detail: String(lib.rd_kafka_event_error_string(ev)) });
}
