import { TopofleetError } from "./base.ts";

/** Codes for topology-file and CLI configuration problems (always fatal: fix the file). */
export type ConfigErrorCode =
  | "CONFIG_INVALID" // one or more validation issues; see `issues`
  | "CONFIG_NOT_FOUND"
  | "CONFIG_YAML_SYNTAX"
  | "CONFIG_ENV_MISSING"
  | "CONFIG_LIMIT" // the file exceeds a loader limit (size, alias expansion, nesting depth); see `issues`
  | "CONFIG_MODULE_LOAD" // a custom stage / enrich module could not be loaded
  | "CONFIG_USAGE"; // bad command-line usage: unknown flag, missing or bad flag value

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
export type RuntimeErrorCode =
  | "RUNTIME_CRASH_LOOP"
  | "RUNTIME_SHUTDOWN_TIMEOUT"
  | "RUNTIME_STAGE_FAILED"
  | "RUNTIME_DLQ_FAILED"
  | "RUNTIME_QUEUE_FULL"
  | "RUNTIME_WORKER_LOST"
  | "RUNTIME_WORKER_FENCED" // another process joined the group with a worker's group.instance.id
  | "RUNTIME_HTTP_BIND"; // the metrics/health endpoint could not listen (port in use, bad host)

/** The fleet runtime itself failed. */
export class RuntimeError extends TopofleetError {
  readonly domain = "runtime";
  constructor(code: RuntimeErrorCode, message: string, opts: { retriable: boolean; cause?: unknown; context?: Record<string, unknown> }) {
    super(code, message, opts);
  }
}
