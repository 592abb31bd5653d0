import { TopofleetError } from "../errors/base.ts";
import type { ErrorCodeInfo } from "../errors/domains.ts";

/** Codes the binding raises itself; every other code is a librdkafka error name (rd_kafka_err2name). */
export const KAFKA_OWN_ERROR_CODES = {
  LIB_NOT_FOUND: { retriable: false, description: "librdkafka could not be loaded; the message says how to install it (or set `RDKAFKA_LIB`)." },
  LIB_TOO_OLD: { retriable: false, description: "The loaded librdkafka is older than 2.0." },
  CONFIG_INVALID: { retriable: false, description: "rd_kafka_conf_set or rd_kafka_new refused the configuration (a bad `properties` entry)." },
  DELIVERY_FAILED: { retriable: "depends", description: "Some messages of a produced batch were not acknowledged; `failures` lists each with its own librdkafka error." },
  CLOSED: { retriable: false, description: "The client was closed before (or while) the call ran." },
  RELEASED: {
    retriable: false,
    description: "A consumed message's key, value or headers were read after its batch was released (a programming error: copy what you keep before `release()`).",
  },
  LAYOUT_MISMATCH: {
    retriable: false,
    description: "librdkafka's private message struct differs from what the binding reads: reported to `onError`, and the binding falls back to the public calls for good.",
  },
} as const satisfies Record<string, ErrorCodeInfo>;
export type KafkaOwnErrorCode = keyof typeof KAFKA_OWN_ERROR_CODES;

/** A librdkafka error name such as `_TRANSPORT`, `UNKNOWN_TOPIC_OR_PART`, `_QUEUE_FULL`, or one of ours. */
export type KafkaErrorCode = KafkaOwnErrorCode | (string & {});

/** One message of a produced batch that librdkafka could not deliver. */
export interface DeliveryFailure {
  /** Position of the record in the array given to sendBatch. */
  index: number;
  error: KafkaError;
}

/** Any failure of the Kafka binding: librdkafka errors keep librdkafka's name as `code`. */
export class KafkaError extends TopofleetError {
  readonly domain = "kafka";
  /** The client instance is unusable (librdkafka fatal error, e.g. idempotence broken): recreate it. */
  readonly fatal: boolean;
  /** librdkafka's numeric rd_kafka_resp_err_t, when the error came from librdkafka. */
  readonly errno: number | undefined;
  /** Set for DELIVERY_FAILED: which records failed and why. */
  readonly failures: readonly DeliveryFailure[] | undefined;

  constructor(
    code: KafkaErrorCode,
    message: string,
    opts: {
      retriable: boolean;
      fatal?: boolean;
      errno?: number;
      failures?: DeliveryFailure[];
      cause?: unknown;
      context?: Record<string, unknown>;
    },
  ) {
    super(code, message, opts);
    this.fatal = opts.fatal ?? false;
    this.errno = opts.errno;
    this.failures = opts.failures;
  }
}

/**
 * librdkafka error names a retry can fix, for the places where librdkafka hands us a bare
 * rd_kafka_resp_err_t (delivery reports, metadata, commit results) instead of an rd_kafka_error_t that
 * answers rd_kafka_error_is_retriable() itself. Names not listed are treated as not retriable.
 */
export const RETRIABLE_NAMES: ReadonlySet<string> = new Set([
  "_TRANSPORT",
  "_QUEUE_FULL",
  "_TIMED_OUT",
  "_MSG_TIMED_OUT",
  "_ALL_BROKERS_DOWN",
  "_RESOLVE",
  "_WAIT_COORD",
  "_WAIT_CACHE",
  "_RETRY",
  "_IN_PROGRESS",
  "_PREV_IN_PROGRESS",
  "_NODE_UPDATE",
  "_TIMED_OUT_QUEUE",
  "UNKNOWN_TOPIC_OR_PART", // same: a topic being created or a stale leader
  "REQUEST_TIMED_OUT",
  "NOT_LEADER_FOR_PARTITION",
  "NOT_LEADER_OR_FOLLOWER",
  "LEADER_NOT_AVAILABLE",
  "BROKER_NOT_AVAILABLE",
  "REPLICA_NOT_AVAILABLE",
  "NETWORK_EXCEPTION",
  "NOT_ENOUGH_REPLICAS",
  "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
  "KAFKA_STORAGE_ERROR",
  "COORDINATOR_LOAD_IN_PROGRESS",
  "COORDINATOR_NOT_AVAILABLE",
  "NOT_COORDINATOR",
  "REBALANCE_IN_PROGRESS",
  // A commit refused by a newer group generation: the same offsets commit once this member has rejoined,
  // if it still owns the partitions (REJOIN_NAMES). FENCED_INSTANCE_ID is not here: another process took this
  // member's static identity, and retrying would fence that one in turn.
  "ILLEGAL_GENERATION",
  "UNKNOWN_MEMBER_ID",
  "UNSTABLE_OFFSET_COMMIT",
  "OFFSET_NOT_AVAILABLE",
  "FETCH_SESSION_ID_NOT_FOUND",
  "INVALID_FETCH_SESSION_EPOCH",
  "THROTTLING_QUOTA_EXCEEDED",
  "CONCURRENT_TRANSACTIONS",
  "ELECTION_NOT_NEEDED",
  "PREFERRED_LEADER_NOT_AVAILABLE",
]);

/**
 * Retriable errors that only a rejoin of the group clears (a stale generation or member id): retrying
 * before the member rejoined (e.g. from a revocation handler, which the rejoin waits for) cannot succeed, so
 * callers wait for the next assignment. REBALANCE_IN_PROGRESS is not one: it clears by itself.
 */
const REJOIN_NAMES: ReadonlySet<string> = new Set(["ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID"]);

/** Whether a retry of a refused group request (a commit) must wait until the member has rejoined the group. */
export function needsRejoin(name: string): boolean {
  return REJOIN_NAMES.has(name);
}

/** Whether a librdkafka error name denotes a condition a later retry may clear (see RETRIABLE_NAMES). */
export function isRetriableName(name: string): boolean {
  return RETRIABLE_NAMES.has(name);
}

/** The error returned when a closed client is used. */
export function closedError(what: string): KafkaError {
  return new KafkaError("CLOSED", `${what}: the client is closed`, { retriable: false });
}
