import { TopofleetError } from "./base.ts";

/**
 * What one error code means: whether a retry can help (`varies`: the throw site decides per cause, e.g. a
 * transient server state vs a refused command) and what happened. One table per domain below; the union
 * types are their keys, and docs/reference/errors.md is generated from them.
 */
export interface ErrorCodeInfo {
  readonly retriable: boolean | "varies";
  readonly meaning: string;
}

/** Codes for topology-file and CLI configuration problems (always fatal: fix the file; the CLI exits 2). */
export const CONFIG_ERROR_CODES = {
  CONFIG_INVALID: { retriable: false, meaning: "The topology file has validation issues; every one is listed as `file:line:column: key.path: message`." },
  CONFIG_NOT_FOUND: { retriable: false, meaning: "The topology file (or a file it refers to) does not exist." },
  CONFIG_YAML_SYNTAX: { retriable: false, meaning: "The topology file is not valid YAML." },
  CONFIG_ENV_MISSING: { retriable: false, meaning: "A `${VAR}` without a default names a variable that is not set; the message names the file, line, column, key and variable." },
  CONFIG_LIMIT: {
    retriable: false,
    meaning: "The file exceeds a loader limit: at most 1 MiB, 100,000 values after expanding YAML aliases (an alias bomb fails fast at the alias), 64 levels of nesting.",
  },
  CONFIG_MODULE_LOAD: {
    retriable: false,
    meaning: "A custom stage or enrich module cannot be imported, exports the wrong thing, or does not finish loading within the start-up deadline; the message names its path.",
  },
  CONFIG_USAGE: { retriable: false, meaning: "Bad command-line usage: an unknown flag, a missing or bad flag value, or a bad environment setting; the message names it." },
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
export const ENRICH_ERROR_CODES = {
  ENRICH_POOL_FAILED: {
    retriable: "varies",
    meaning:
      "An enrich thread died on a batch (retriable: the batch is retried while piscina replaces the thread, then bisected down to the events that kill a thread alone), or topofleet's own thread code threw (not retriable).",
  },
  ENRICH_MODULE_FAILED: { retriable: false, meaning: "The user enrich module could not be loaded in a thread; reported as CONFIG_MODULE_LOAD at start." },
  ENRICH_LOOKUP_UNAVAILABLE: {
    retriable: "varies",
    meaning: "A lookup table cannot be loaded at start: a PostgreSQL lookup whose database is unreachable (retriable), or a missing or malformed lookup file (fatal).",
  },
  ENRICH_QUEUE_FULL: { retriable: true, meaning: "More slices queued for the threads than the bound (twice the slices of all in-flight batches, at least 64)." },
  ENRICH_SLICE_TIMEOUT: {
    retriable: true,
    meaning: "A slice ran past `sliceTimeout` (a spinning module): its thread was replaced; the retry bisects the slice and dead-letters only the events too slow alone.",
  },
} as const satisfies Record<string, ErrorCodeInfo>;
export type EnrichErrorCode = keyof typeof ENRICH_ERROR_CODES;

/** The enrich stage as a whole failed (not one event). */
export class EnrichError extends TopofleetError {
  readonly domain = "enrich";
  constructor(code: EnrichErrorCode, message: string, opts: { retriable: boolean; cause?: unknown; context?: Record<string, unknown> }) {
    super(code, message, opts);
  }
}

/** Codes for the dedupe stage. */
export const DEDUPE_ERROR_CODES = {
  DEDUPE_REDIS_UNAVAILABLE: { retriable: true, meaning: "Redis refused, reset or timed out: the batch is retried with backoff (or passes unchecked with `onRedisDown: passthrough`)." },
  DEDUPE_REDIS_AUTH: {
    retriable: false,
    meaning: "Redis refused the password (`WRONGPASS`, or a password for a server without one) or its TLS certificate is not trusted: fix the URL or the trust store.",
  },
  DEDUPE_REDIS_COMMAND: {
    retriable: "varies",
    meaning: "A Redis command or a reply element failed (never read as \"new\"): retriable for transient server states, fatal for a malformed reply.",
  },
  DEDUPE_VERIFY_FAILED: { retriable: "varies", meaning: "Checking \"maybe seen\" events against PostgreSQL failed; retriable when the database error is." },
  DEDUPE_CONFIG: { retriable: false, meaning: "The stage is misplaced or misconfigured, e.g. no enrich stage before it." },
} as const satisfies Record<string, ErrorCodeInfo>;
export type DedupeErrorCode = keyof typeof DEDUPE_ERROR_CODES;

/** The dedupe stage failed for a whole batch. */
export class DedupeError extends TopofleetError {
  readonly domain = "dedupe";
  constructor(code: DedupeErrorCode, message: string, opts: { retriable: boolean; cause?: unknown; context?: Record<string, unknown> }) {
    super(code, message, opts);
  }
}

/** Codes for the tenant limit stage (per-event over-limit outcomes are rejections with TENANT_* codes, not errors). */
export const LIMIT_ERROR_CODES = {
  LIMIT_REDIS_UNAVAILABLE: { retriable: true, meaning: "Redis refused, reset or timed out: the batch is retried with backoff (or admitted unlimited with `onRedisDown: passthrough`)." },
  LIMIT_REDIS_AUTH: { retriable: false, meaning: "Redis refused the password or its TLS certificate is not trusted." },
  LIMIT_REDIS_COMMAND: { retriable: "varies", meaning: "The limit script call failed; retriable for transient server states." },
  LIMIT_CONFIG: {
    retriable: "varies",
    meaning: "The stage is misplaced or its overrides are bad (fatal); a `tenantsQuery` whose first load fails is retriable.",
  },
} as const satisfies Record<string, ErrorCodeInfo>;
export type LimitErrorCode = keyof typeof LIMIT_ERROR_CODES;

/** The limit stage failed for a whole batch. */
export class LimitError extends TopofleetError {
  readonly domain = "limit";
  constructor(code: LimitErrorCode, message: string, opts: { retriable: boolean; cause?: unknown; context?: Record<string, unknown> }) {
    super(code, message, opts);
  }
}

/** Codes for the persist stage. SQLSTATE is kept in `context.sqlstate`. */
export const PERSIST_ERROR_CODES = {
  PERSIST_CONNECTION: { retriable: true, meaning: "The connection was lost or refused, or the server is shutting down or starting (SQLSTATE class 08, 57P01-57P03)." },
  PERSIST_TRANSIENT: {
    retriable: true,
    meaning: "Serialization failure, deadlock, lock or statement timeout, too many connections or other resource shortage (40001, 40P01, 55P03, 57014, class 53).",
  },
  PERSIST_ROW_REJECTED: {
    retriable: false,
    meaning: "The database rejected specific rows (constraint, bad data): the batch is bisected and only those rows are dead-lettered as PG_<SQLSTATE>.",
  },
  PERSIST_SCHEMA: { retriable: false, meaning: "The migration failed, the table or a mapped column is missing, or an existing table is not partitioned (class 42)." },
  PERSIST_FATAL: { retriable: false, meaning: "Anything else: unknown SQLSTATEs are fatal until classified (shared/stages/persist/sqlstate.ts)." },
} as const satisfies Record<string, ErrorCodeInfo>;
export type PersistErrorCode = keyof typeof PERSIST_ERROR_CODES;

/** The persist stage failed for a whole batch (row rejections are isolated and dead-lettered instead). */
export class PersistError extends TopofleetError {
  readonly domain = "persist";
  constructor(code: PersistErrorCode, message: string, opts: { retriable: boolean; cause?: unknown; context?: Record<string, unknown> }) {
    super(code, message, opts);
  }
}

/** Codes for the supervisor and the per-worker engine. */
export const RUNTIME_ERROR_CODES = {
  RUNTIME_CRASH_LOOP: { retriable: false, meaning: "One worker crashed 5 times within 60 s: the supervisor drains the others and exits 1." },
  RUNTIME_SHUTDOWN_TIMEOUT: {
    retriable: false,
    meaning: "Workers did not stop within the shutdown deadline and were killed (exit 1), or a batch was abandoned uncommitted at a shutdown or revocation deadline.",
  },
  RUNTIME_STAGE_FAILED: {
    retriable: false,
    meaning: "A worker stopped on a configuration error no restart can fix (exit 2), or a batch left events Live after the last stage.",
  },
  RUNTIME_DLQ_FAILED: {
    retriable: "varies",
    meaning: "Dead-letter delivery failed for some records: retried with backoff like a stage, unless the producer hit a fatal librdkafka error.",
  },
  RUNTIME_QUEUE_FULL: { retriable: false, meaning: "The in-flight batch limit was exceeded (an engine bug: it consumed while full)." },
  RUNTIME_WORKER_LOST: { retriable: false, meaning: "A worker could not be spawned, or exited with an error while draining." },
  RUNTIME_WORKER_FENCED: {
    retriable: false,
    meaning: "Another process joined the group with a worker's `group.instance.id` (two live fleets with one `TOPOFLEET_INSTANCE`); ends as a crash loop, exit 1.",
  },
  RUNTIME_HTTP_BIND: { retriable: false, meaning: "The metrics and health endpoint could not listen (port in use, bad host)." },
} as const satisfies Record<string, ErrorCodeInfo>;
export type RuntimeErrorCode = keyof typeof RUNTIME_ERROR_CODES;

/** The fleet runtime itself failed. */
export class RuntimeError extends TopofleetError {
  readonly domain = "runtime";
  constructor(code: RuntimeErrorCode, message: string, opts: { retriable: boolean; cause?: unknown; context?: Record<string, unknown> }) {
    super(code, message, opts);
  }
}
