import { TopofleetError } from "./base.ts";

/**
 * What one error code means: whether a retry can help (`depends`: the throw site decides per cause, e.g. a
 * transient server state vs a refused command) and what happened. The same shape as a stage spec's `errors`
 * (shared/stages/spec.ts); the domains below that are not stages list theirs here, and
 * docs/reference/errors.md is generated from both.
 */
export interface ErrorCodeInfo {
  readonly retriable: boolean | "depends";
  readonly description: string;
}

/** Codes for topology-file and CLI configuration problems (always fatal: fix the file; the CLI exits 2). */
export const CONFIG_ERROR_CODES = {
  CONFIG_INVALID: { retriable: false, description: "The topology file has validation issues; every one is listed as `file:line:column: key.path: message`." },
  CONFIG_NOT_FOUND: { retriable: false, description: "The topology file (or a file it refers to) does not exist." },
  CONFIG_YAML_SYNTAX: { retriable: false, description: "The topology file is not valid YAML." },
  CONFIG_ENV_MISSING: { retriable: false, description: "A `${VAR}` without a default names a variable that is not set; the message names the file, line, column, key and variable." },
  CONFIG_LIMIT: {
    retriable: false,
    description: "The file exceeds a loader limit: at most 1 MiB, 100,000 values after expanding YAML aliases (an alias bomb fails fast at the alias), 64 levels of nesting.",
  },
  CONFIG_MODULE_LOAD: {
    retriable: false,
    description: "A custom stage or enrich module cannot be imported, exports the wrong thing, or does not finish loading within the start-up deadline; the message names its path.",
  },
  CONFIG_USAGE: { retriable: false, description: "Bad command-line usage: an unknown flag, a missing or bad flag value, or a bad environment setting; the message names it." },
} as const satisfies Record<string, ErrorCodeInfo>;
export type ConfigErrorCode = keyof typeof CONFIG_ERROR_CODES;

/** One precise problem found while validating a topology file. */
export interface ConfigIssue {
  file: string;
  line: number; // 1-based
  column: number; // 1-based
  path: string; // e.g. "stages[1].dedupe.window"
  message: string;
}

/** Formats a config issue as `file:line:col: path: message` (the format editors link). */
export function formatIssue(i: ConfigIssue): string {
  return `${i.file}:${i.line}:${i.column}: ${i.path || "(root)"}: ${i.message}`;
}

/** Topology / CLI configuration is wrong. Fatal; carries every issue found, not only the first. */
export class ConfigError extends TopofleetError {
  readonly domain = "config";
  readonly issues: readonly ConfigIssue[];
  constructor(code: ConfigErrorCode, message: string, issues: ConfigIssue[] = [], cause?: unknown) {
    super(code, issues.length ? `${message}\n${issues.map(formatIssue).join("\n")}` : message, {
      retriable: false,
      cause,
      context: { issues: issues.length },
    });
    this.issues = issues;
  }
}

/** Codes for the enrich stage (thread pool, user module). Per-event problems are EventRejections, not errors. */
export type EnrichErrorCode = "ENRICH_POOL_FAILED" | "ENRICH_MODULE_FAILED" | "ENRICH_LOOKUP_UNAVAILABLE" | "ENRICH_QUEUE_FULL" | "ENRICH_SLICE_TIMEOUT";

/** The enrich stage as a whole failed (not one event). */
export class EnrichError extends TopofleetError {
  readonly domain = "enrich";
  constructor(code: EnrichErrorCode, message: string, opts: { retriable: boolean; cause?: unknown; context?: Record<string, unknown> }) {
    super(code, message, opts);
  }
}

/** Codes for the dedupe stage. */
export type DedupeErrorCode =
  | "DEDUPE_REDIS_UNAVAILABLE" // refused, reset, timed out: retriable
  | "DEDUPE_REDIS_AUTH" // wrong password / untrusted TLS certificate: fatal, fix the URL or the trust store
  | "DEDUPE_REDIS_COMMAND"
  | "DEDUPE_VERIFY_FAILED"
  | "DEDUPE_CONFIG";

/** The dedupe stage failed for a whole batch. */
export class DedupeError extends TopofleetError {
  readonly domain = "dedupe";
  constructor(code: DedupeErrorCode, message: string, opts: { retriable: boolean; cause?: unknown; context?: Record<string, unknown> }) {
    super(code, message, opts);
  }
}

/** Codes for the tenant limit stage (per-event over-limit outcomes are rejections with TENANT_* codes, not errors). */
export type LimitErrorCode =
  | "LIMIT_REDIS_UNAVAILABLE" // refused, reset, timed out: retriable
  | "LIMIT_REDIS_AUTH" // wrong password / untrusted TLS certificate: fatal
  | "LIMIT_REDIS_COMMAND"
  | "LIMIT_CONFIG";

/** The limit stage failed for a whole batch. */
export class LimitError extends TopofleetError {
  readonly domain = "limit";
  constructor(code: LimitErrorCode, message: string, opts: { retriable: boolean; cause?: unknown; context?: Record<string, unknown> }) {
    super(code, message, opts);
  }
}

/** Codes for the persist stage. SQLSTATE is kept in `context.sqlstate`. */
export type PersistErrorCode =
  | "PERSIST_CONNECTION" // connection lost / refused / admin shutdown
  | "PERSIST_TRANSIENT" // serialization failure, deadlock, too many connections
  | "PERSIST_ROW_REJECTED" // the database rejected specific rows (constraint, bad data)
  | "PERSIST_SCHEMA" // migration failed, table missing
  | "PERSIST_FATAL"; // anything else: unknown SQLSTATEs are fatal until classified

/** The persist stage failed for a whole batch (row rejections are isolated and dead-lettered instead). */
export class PersistError extends TopofleetError {
  readonly domain = "persist";
  constructor(code: PersistErrorCode, message: string, opts: { retriable: boolean; cause?: unknown; context?: Record<string, unknown> }) {
    super(code, message, opts);
  }
}

/** Codes for the supervisor and the per-worker engine. */
export const RUNTIME_ERROR_CODES = {
  RUNTIME_CRASH_LOOP: { retriable: false, description: "One worker crashed 5 times within 60 s: the supervisor drains the others and exits 1." },
  RUNTIME_SHUTDOWN_TIMEOUT: {
    retriable: false,
    description: "Workers did not stop within the shutdown deadline and were killed (exit 1), or a batch was abandoned uncommitted at a shutdown or revocation deadline.",
  },
  RUNTIME_STAGE_FAILED: {
    retriable: false,
    description: "A worker stopped on a configuration error no restart can fix (exit 2), or a batch left events Live after the last stage.",
  },
  RUNTIME_DLQ_FAILED: {
    retriable: "depends",
    description: "Dead-letter delivery failed for some records: retried with backoff like a stage, unless the producer hit a fatal librdkafka error.",
  },
  RUNTIME_QUEUE_FULL: { retriable: false, description: "The in-flight batch limit was exceeded (an engine bug: it consumed while full)." },
  RUNTIME_WORKER_LOST: { retriable: false, description: "A worker could not be spawned, or exited with an error while draining." },
  RUNTIME_WORKER_FENCED: {
    retriable: false,
    description: "Another process joined the group with a worker's `group.instance.id` (two live fleets with one `TOPOFLEET_INSTANCE`); ends as a crash loop, exit 1.",
  },
  RUNTIME_HTTP_BIND: { retriable: false, description: "The metrics and health endpoint could not listen (port in use, bad host)." },
} as const satisfies Record<string, ErrorCodeInfo>;
export type RuntimeErrorCode = keyof typeof RUNTIME_ERROR_CODES;

/** The fleet runtime itself failed. */
export class RuntimeError extends TopofleetError {
  readonly domain = "runtime";
  constructor(code: RuntimeErrorCode, message: string, opts: { retriable: boolean; cause?: unknown; context?: Record<string, unknown> }) {
    super(code, message, opts);
  }
}
