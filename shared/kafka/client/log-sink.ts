/**
 * Where librdkafka's log lines end up: one process-wide logger with pino's call shape. Each process entry
 * point (worker, CLI, bench, gen, replay, audit) hands over its own pino logger with `setKafkaLogger`; until
 * one does, lines go to a JSON logger on stderr, so no librdkafka line is ever printed raw.
 */
import { createLogger } from "../../telemetry/logger.ts";

type LogFn = (obj: Record<string, unknown>, msg: string) => void;

/** The subset of a pino logger the binding writes librdkafka's lines to. */
export interface KafkaLogger {
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
}

let current: KafkaLogger | null = null;
let fallback: KafkaLogger | null = null;

/** Makes `logger` receive every librdkafka log line of this process (from now on, for all handles). */
export function setKafkaLogger(logger: KafkaLogger): void {
  current = logger;
}

/** The logger librdkafka lines go to now. */
export function kafkaLogger(): KafkaLogger {
  if (current) return current;
  fallback ??= createLogger({ level: process.env.TOPOFLEET_LOG_LEVEL || "info", component: "librdkafka" });
  return fallback;
}

/** pino level for a librdkafka (syslog) level: 0-3 emerg..err, 4 warning, 5-6 notice/info, 7 debug. */
export function pinoLevelOf(syslogLevel: number): keyof KafkaLogger {
  if (syslogLevel <= 3) return "error";
  if (syslogLevel === 4) return "warn";
  if (syslogLevel <= 6) return "info";
  return "debug";
}
