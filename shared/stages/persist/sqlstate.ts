/**
 * The one table that decides what a database or driver error means for a batch. The engine acts on
 * `retriable` alone, so every SQLSTATE the stage can meet is classified here, never at throw sites.
 */
import { PersistError, type PersistErrorCode } from "../../errors/index.ts";
import type { Rejection } from "../batch.ts";

/**
 * - connection / transient: the whole batch may succeed later (retriable);
 * - row: the database refused specific rows; the batch is split until they are found and dead-lettered;
 * - schema: the table or a column is missing or not ours to write (fatal: fix the schema or mapping);
 * - fatal: anything unclassified, reported with its SQLSTATE until someone classifies it.
 */
export type FailureKind = "connection" | "transient" | "row" | "schema" | "fatal";

/** Exact SQLSTATEs. */
export const BY_SQLSTATE: Readonly<Record<string, FailureKind>> = {
  "40001": "transient", // serialization_failure
  "40P01": "transient", // deadlock_detected
  "55P03": "transient", // lock_not_available (lock_timeout)
  "57014": "transient", // query_canceled (statement_timeout)
  "57P01": "connection", // admin_shutdown (also pg_terminate_backend)
  "57P02": "connection", // crash_shutdown
  "57P03": "connection", // cannot_connect_now (starting up, recovering)
  "22P02": "row", // invalid_text_representation (bad JSON, bad integer, a lone surrogate escape in jsonb)
  "22P05": "row", // untranslatable_character (\u0000 in jsonb)
  "22021": "row", // character_not_in_repertoire (bad encoding)
  "22001": "row", // string_data_right_truncation (value too long for varchar(n))
  "22003": "row", // numeric_value_out_of_range
  "22007": "row", // invalid_datetime_format
  "22008": "row", // datetime_field_overflow
  "22P04": "row", // bad_copy_file_format (a COPY line with the wrong column count)
  "23502": "row", // not_null_violation
  "23503": "row", // foreign_key_violation (user-owned tables)
  "23514": "row", // check_violation (also "no partition of relation found for row")
  "22009": "row", // invalid_time_zone_displacement_value (a timestamp text PostgreSQL cannot read)
  "54000": "row", // program_limit_exceeded (index row size over the btree maximum)
  "54001": "row", // statement_too_complex (stack depth limit exceeded parsing deeply nested jsonb)
};

/**
 * Whole SQLSTATE classes, consulted when the exact code is not listed. Data exceptions (22) and integrity
 * violations (23, but 23505, which the writer settles as a conflict) are about the values of a row: the
 * chunk is bisected and only the rows refused alone are dead-lettered, never a crash loop on one event.
 */
export const BY_CLASS: Readonly<Record<string, FailureKind>> = {
  "22": "row", // data_exception
  "23": "row", // integrity_constraint_violation
  "08": "connection", // connection_exception
  "53": "transient", // insufficient_resources: too many connections, disk full, out of memory
  "42": "schema", // undefined table/column, insufficient privilege, partition overlap
};

/** Error codes the `postgres` driver and the socket layer use when the connection itself fails. */
const DRIVER_CONNECTION_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

export const KIND_CODE: Readonly<Record<FailureKind, PersistErrorCode>> = {
  connection: "PERSIST_CONNECTION",
  transient: "PERSIST_TRANSIENT",
  row: "PERSIST_ROW_REJECTED",
  schema: "PERSIST_SCHEMA",
  fatal: "PERSIST_FATAL",
};

/** Fields of the driver's PostgresError that the stage reads. */
interface PgErrorFields {
  code?: string;
  message?: string;
  routine?: string;
  constraint_name?: string;
  column_name?: string;
  table_name?: string;
  where?: string;
  severity?: string;
}

const fields = (err: unknown): PgErrorFields => (err && typeof err === "object" ? (err as PgErrorFields) : {});

/** The SQLSTATE of a server error, or null for driver/socket errors. */
export function sqlstateOf(err: unknown): string | null {
  const f = fields(err);
  // Server errors carry a severity; driver errors reuse `code` for their own names.
  return f.severity && typeof f.code === "string" && f.code.length === 5 ? f.code : null;
}

/** Classifies any error thrown while talking to the database. */
export function classify(err: unknown): FailureKind {
  if (err instanceof PersistError) return (Object.keys(KIND_CODE) as FailureKind[]).find((k) => KIND_CODE[k] === err.code) ?? "fatal";
  const state = sqlstateOf(err);
  if (state) return BY_SQLSTATE[state] ?? BY_CLASS[state.slice(0, 2)] ?? "fatal";
  const code = fields(err).code;
  return typeof code === "string" && DRIVER_CONNECTION_CODES.has(code) ? "connection" : "fatal";
}

/** True for "no partition of relation ... found for row": the partition cache is stale, not the row bad. */
export function isMissingPartition(err: unknown): boolean {
  const f = fields(err);
  return sqlstateOf(err) === "23514" && (f.routine === "ExecFindPartition" || /no partition of relation/.test(f.message ?? ""));
}

/** Wraps a failure as the PersistError the engine acts on (retriable exactly when the table says so). */
export function toPersistError(err: unknown, operation: string, kind: FailureKind = classify(err)): PersistError {
  if (err instanceof PersistError) return err;
  const f = fields(err);
  const state = sqlstateOf(err);
  const context: Record<string, unknown> = { operation };
  if (state) context.sqlstate = state;
  else if (f.code) context.driverCode = f.code;
  if (f.constraint_name) context.constraint = f.constraint_name;
  if (f.column_name) context.column = f.column_name;
  if (f.table_name) context.table = f.table_name;
  const label = state ? `SQLSTATE ${state}` : (f.code ?? "error");
  return new PersistError(KIND_CODE[kind], `${operation} failed (${label}): ${f.message ?? String(err)}`, {
    retriable: kind === "connection" || kind === "transient",
    cause: err,
    context,
  });
}

const MAX_REASON = 500;

/** The dead-letter reason for a row the database refused: PG_<SQLSTATE>, message, constraint / column. */
export function rowRejection(stage: string, err: unknown): Rejection {
  const f = fields(err);
  const parts = [f.message ?? String(err)];
  if (f.constraint_name) parts.push(`constraint ${f.constraint_name}`);
  if (f.column_name) parts.push(`column ${f.column_name}`);
  if (f.table_name) parts.push(`table ${f.table_name}`);
  // COPY errors name the column only in `where` ("COPY t, line 1, column data: ..."); keep its last line.
  if (!f.column_name && f.where) parts.push(f.where.split("\n").pop()!);
  const reason = parts.join("; ");
  return { stage, code: `PG_${sqlstateOf(err) ?? "UNKNOWN"}`, reason: reason.length > MAX_REASON ? reason.slice(0, MAX_REASON - 1) + "…" : reason };
}
