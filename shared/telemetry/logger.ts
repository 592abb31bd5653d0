import pino, { type Logger } from "pino";
import { redactSecretsInText } from "../config/secrets.ts";

/** Keys whose values are never logged; secrets come from the environment and must stay there. */
export const REDACT_PATHS = [
  "password",
  "*.password",
  "url",
  "*.url",
  "*.properties",
  "sasl.password",
  "ssl.key.password",
  "*.connectionString",
];

/**
 * Creates the process logger: pino JSON to stdout (or stderr), carrying the worker id when there is one.
 * Besides the redacted keys, every line is scrubbed of URL passwords, `secret=value` assignments and PEM
 * private keys, wherever they sit (an error message quoting a connection string, a librdkafka log line).
 */
export function createLogger(opts: { level: string; workerId?: number; component?: string; destination?: 1 | 2 }): Logger {
  const base: Record<string, unknown> = { pid: process.pid };
  if (opts.workerId !== undefined) base.worker = opts.workerId;
  if (opts.component) base.component = opts.component;
  return pino(
    {
      level: opts.level,
      base,
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
      hooks: { streamWrite: redactSecretsInText },
    },
    pino.destination({ fd: opts.destination ?? 2, sync: false }),
  );
}
