/**
 * Creating librdkafka handles from a plain property map. Errors are typed: a property librdkafka refuses is
 * CONFIG_INVALID naming the property and librdkafka's own explanation.
 */
import { KafkaError } from "../errors.ts";
import { rdkafka } from "../ffi/lib.ts";
import { cstr, readErrstr } from "../ffi/memory.ts";
import type { KafkaConfig } from "../types.ts";
import { attachLogQueue, detachLogQueue } from "./log-queue.ts";

export const RD_KAFKA_PRODUCER = 0;
export const RD_KAFKA_CONSUMER = 1;

/** Event-type bits for rd_kafka_conf_set_events (rdkafka.h RD_KAFKA_EVENT_*). */
export const EV = {
  DR: 0x1,
  FETCH: 0x2,
  LOG: 0x4,
  ERROR: 0x8,
  REBALANCE: 0x10,
  OFFSET_COMMIT: 0x20,
  STATS: 0x40,
  CREATETOPICS_RESULT: 100,
  DELETETOPICS_RESULT: 101,
} as const;

const ERRSTR_SIZE = 512;

/** Builds an rd_kafka_conf_t from `config` (caller owns it until rd_kafka_new succeeds). */
export function buildConf(config: KafkaConfig, events: number): number {
  const lib = rdkafka();
  const conf = lib.rd_kafka_conf_new() as number;
  const errstr = Buffer.alloc(ERRSTR_SIZE);
  for (const [name, value] of Object.entries(config)) {
    if (value === undefined || value === null) continue;
    const rc = lib.rd_kafka_conf_set(conf, cstr(name), cstr(String(value)), errstr, ERRSTR_SIZE);
    if (rc !== 0) {
      lib.rd_kafka_conf_destroy(conf);
      // The value is deliberately left out of the message: it may be a secret (sasl.password, ssl keys).
      throw new KafkaError("CONFIG_INVALID", `invalid Kafka property "${name}": ${readErrstr(errstr)}`, {
        retriable: false,
        context: { property: name },
      });
    }
  }
  // Event API only: librdkafka never calls into JS from its threads; we poll queues from the JS thread.
  lib.rd_kafka_conf_set_events(conf, events);
  return conf;
}

/**
 * Logging every handle gets: lines as events on a queue JS drains (log-queue.ts), never printed by librdkafka
 * itself; the thread-name prefix is left out (the facility and broker are fields). The caller's config may
 * raise or lower `log_level` or ask for `debug` contexts, but not turn the queue off.
 */
const LOG_DEFAULTS: KafkaConfig = { "log.thread.name": "false" };

/** Creates an rd_kafka_t of `type` (RD_KAFKA_PRODUCER / RD_KAFKA_CONSUMER) with the event types to enable. */
export function createHandle(type: number, config: KafkaConfig, events: number): number {
  const lib = rdkafka();
  const conf = buildConf({ ...LOG_DEFAULTS, ...config, "log.queue": "true" }, events);
  const errstr = Buffer.alloc(ERRSTR_SIZE);
  const rk = lib.rd_kafka_new(type, conf, errstr, ERRSTR_SIZE) as number | null;
  if (!rk) {
    // On failure rd_kafka_new leaves the conf with us.
    lib.rd_kafka_conf_destroy(conf);
    throw new KafkaError("CONFIG_INVALID", `librdkafka refused the configuration: ${readErrstr(errstr)}`, { retriable: false });
  }
  attachLogQueue(rk);
  return rk;
}

/** Logs what the handle still has queued, then destroys it (rd_kafka_destroy_flags when `flags` is given). */
export async function destroyHandle(rk: number, flags?: number): Promise<void> {
  await detachLogQueue(rk);
  if (flags === undefined) rdkafka().rd_kafka_destroy(rk);
  else rdkafka().rd_kafka_destroy_flags(rk, flags);
}
