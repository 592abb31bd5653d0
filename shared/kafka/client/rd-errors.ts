/** Turning librdkafka's error values (rd_kafka_resp_err_t codes and rd_kafka_error_t objects) into KafkaErrors. */
import { KafkaError, isRetriableName } from "../errors.ts";
import { rdkafka } from "../ffi/lib.ts";

const names = new Map<number, string>();

/** librdkafka's stable name for an error code (e.g. -195 → "_TRANSPORT"). */
export function errName(code: number): string {
  let n = names.get(code);
  if (n === undefined) {
    n = String(rdkafka().rd_kafka_err2name(code));
    names.set(code, n);
  }
  return n;
}

/** A KafkaError for a bare rd_kafka_resp_err_t; retriable comes from the table in errors.ts. */
export function errFromCode(code: number, what: string, opts: { fatal?: boolean; detail?: string; context?: Record<string, unknown> } = {}): KafkaError {
  const name = errName(code);
  const desc = opts.detail ?? String(rdkafka().rd_kafka_err2str(code));
  return new KafkaError(name, `${what}: ${desc} (${name})`, {
    retriable: !opts.fatal && isRetriableName(name),
    fatal: opts.fatal ?? false,
    errno: code,
    context: opts.context,
  });
}

/** Throws errFromCode when `code` is not RD_KAFKA_RESP_ERR_NO_ERROR. */
export function check(code: number, what: string): void {
  if (code !== 0) throw errFromCode(code, what);
}

/**
 * A KafkaError from an rd_kafka_error_t, which knows itself whether it is retriable or fatal.
 * Takes ownership: the rd_kafka_error_t is destroyed here.
 */
export function errFromErrorPtr(error: number, what: string): KafkaError {
  const lib = rdkafka();
  const code = lib.rd_kafka_error_code(error);
  const name = String(lib.rd_kafka_error_name(error));
  const desc = String(lib.rd_kafka_error_string(error));
  const fatal = lib.rd_kafka_error_is_fatal(error) !== 0;
  const retriable = !fatal && (lib.rd_kafka_error_is_retriable(error) !== 0 || isRetriableName(name));
  lib.rd_kafka_error_destroy(error);
  return new KafkaError(name, `${what}: ${desc} (${name})`, { retriable, fatal, errno: code });
}

/** Throws errFromErrorPtr when librdkafka returned a non-NULL rd_kafka_error_t. */
export function checkErrorPtr(error: number | null, what: string): void {
  if (error) throw errFromErrorPtr(error, what);
}
