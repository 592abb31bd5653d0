/** Pure parts of the persist stage: SQLSTATE table, rejections, partition names, mapping checks, bisection. */
import { describe, expect, test } from "bun:test";
import postgres from "postgres";
import { ConfigError, PersistError } from "../../../shared/errors/index.ts";
import { DEFAULT_COLUMNS, resolveColumns } from "../../../shared/stages/persist/columns.ts";
import { writeIsolating } from "../../../shared/stages/persist/isolate.ts";
import { DAY_MS, dayOf, partitionDay, partitionName } from "../../../shared/stages/persist/partitions.ts";
import { socketGone } from "../../../shared/stages/persist/pg-driver.ts";
import { derivedName, MAX_IDENTIFIER, target } from "../../../shared/stages/persist/sql-text.ts";
import { classify, isMissingPartition, rowRejection, toPersistError } from "../../../shared/stages/persist/sqlstate.ts";

/** A server error as the driver builds it (PostgresError with the protocol's fields). */
const pgError = (code: string, message = "boom", extra: Record<string, string> = {}) =>
  new postgres.PostgresError({ severity: "ERROR", code, message, ...extra } as never);
const driverError = (code: string) => Object.assign(new Error(`write ${code} 127.0.0.1:5432`), { code });

describe("SQLSTATE classification", () => {
  test.each([
    ["08006", "connection"],
    ["08P01", "connection"],
    ["57P01", "connection"],
    ["57P02", "connection"],
    ["57P03", "connection"],
    ["40001", "transient"],
    ["40P01", "transient"],
    ["53300", "transient"],
    ["53100", "transient"],
    ["22P02", "row"],
    ["22P05", "row"],
    ["22021", "row"],
    ["22001", "row"],
    ["23514", "row"],
    ["23502", "row"],
    ["22007", "row"],
    ["22008", "row"],
    ["42P01", "schema"],
    ["42703", "schema"],
    ["XX000", "fatal"],
    ["25P02", "fatal"],
  ])("%s is %s", (code, kind) => {
    expect(classify(pgError(code))).toBe(kind as never);
  });

  test.each(["ECONNREFUSED", "ECONNRESET", "CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED", "CONNECT_TIMEOUT"])(
    "driver error %s is a connection failure",
    (code) => {
      expect(classify(driverError(code))).toBe("connection");
    },
  );

  test("an unknown driver error is fatal, and the PersistError says so with retriable false", () => {
    const err = toPersistError(driverError("SOMETHING_ODD"), "write");
    expect(err.code).toBe("PERSIST_FATAL");
    expect(err.retriable).toBe(false);
    expect(err.context.driverCode).toBe("SOMETHING_ODD");
  });

  test("unknown SQLSTATEs become fatal PersistErrors carrying the SQLSTATE", () => {
    const err = toPersistError(pgError("XX001", "data corrupted"), "write");
    expect(err).toBeInstanceOf(PersistError);
    expect(err.code).toBe("PERSIST_FATAL");
    expect(err.retriable).toBe(false);
    expect(err.context.sqlstate).toBe("XX001");
    expect(err.message).toContain("XX001");
  });

  test("transient and connection failures are retriable with their own codes", () => {
    expect(toPersistError(pgError("40P01"), "write")).toMatchObject({ code: "PERSIST_TRANSIENT", retriable: true });
    expect(toPersistError(driverError("ECONNRESET"), "write")).toMatchObject({ code: "PERSIST_CONNECTION", retriable: true });
    expect(toPersistError(pgError("42P01"), "write")).toMatchObject({ code: "PERSIST_SCHEMA", retriable: false });
  });

  test("a missing partition is recognised by routine or message, not every 23514", () => {
    expect(isMissingPartition(pgError("23514", 'no partition of relation "t" found for row'))).toBe(true);
    expect(isMissingPartition(pgError("23514", "anything", { routine: "ExecFindPartition" }))).toBe(true);
    expect(isMissingPartition(pgError("23514", 'new row violates check constraint "c"', { constraint_name: "c" }))).toBe(false);
  });

  test("only a closed socket counts as gone (a server error reusing a driver-like code does not)", () => {
    expect(socketGone(driverError("CONNECTION_CLOSED"))).toBe(true);
    expect(socketGone(driverError("ECONNRESET"))).toBe(true);
    expect(socketGone(driverError("CONNECTION_DESTROYED"))).toBe(false);
    expect(socketGone(pgError("57P01"))).toBe(false);
  });
});

describe("row rejections", () => {
  test("carry PG_<SQLSTATE>, the message and the constraint", () => {
    const r = rowRejection("persist", pgError("23514", 'new row for relation "t" violates check constraint "no_poison"', { constraint_name: "no_poison", table_name: "t" }));
    expect(r).toEqual({ stage: "persist", code: "PG_23514", reason: 'new row for relation "t" violates check constraint "no_poison"; constraint no_poison; table t' });
  });

  test("name the COPY column from `where` and stay short", () => {
    const r = rowRejection("persist", pgError("22P02", "invalid input syntax for type json", { where: "JSON data, line 1: {bad\nCOPY t, line 2, column data: \"{bad\"" }));
    expect(r.code).toBe("PG_22P02");
    expect(r.reason).toContain("column data");
    expect(rowRejection("p", pgError("22001", "x".repeat(2000))).reason.length).toBeLessThanOrEqual(500);
  });
});

describe("partition names", () => {
  test("round-trip a UTC day", () => {
    const day = dayOf(Date.UTC(2024, 1, 29, 23, 59, 59, 999));
    expect(partitionName("events", day)).toBe("events_p20240229");
    expect(partitionDay("events", "events_p20240229")).toBe(day);
    expect(dayOf(Date.UTC(2024, 2, 1))).toBe(day + 1);
    expect(day * DAY_MS).toBe(Date.UTC(2024, 1, 29));
  });

  test("names that are not ours are never mistaken for our partitions", () => {
    expect(partitionDay("events", "events_default")).toBeNull();
    expect(partitionDay("events", "events_p2024022")).toBeNull();
    expect(partitionDay("events", "other_p20240229")).toBeNull();
    expect(partitionDay("events", "events_x_p20240229")).toBeNull();
  });
});

describe("names and mapping", () => {
  test("derived names fit the identifier limit and stay distinct for long tables", () => {
    const a = derivedName("a".repeat(53) + "1", "_tenant_time_idx");
    const b = derivedName("a".repeat(53) + "2", "_tenant_time_idx");
    expect(a.length).toBeLessThanOrEqual(MAX_IDENTIFIER);
    expect(a).not.toBe(b);
    expect(derivedName("events", "_tenant_time_idx")).toBe("events_tenant_time_idx");
  });

  test("tables too long for their partition names, and mappings without the identity, are config errors", () => {
    expect(() => target("public", "t".repeat(54))).toThrow(ConfigError);
    expect(target("my schema", 'odd"name').sql).toBe('"my schema"."odd""name"');
    expect(() => resolveColumns(DEFAULT_COLUMNS.filter((c) => c.from !== "time"))).toThrow(/time/);
    expect(() => resolveColumns([...DEFAULT_COLUMNS, { column: "id", from: "subject" }])).toThrow(/twice/);
    const cols = resolveColumns(DEFAULT_COLUMNS);
    expect([cols.source, cols.id, cols.time, cols.kafkaPartition, cols.kafkaOffset]).toEqual(["source", "id", "time", "kafka_partition", "kafka_offset"]);
  });
});

describe("bisection of refused rows", () => {
  const bad = new Set([3, 17, 18]);
  const rowError = Object.assign(new Error("refused"), { row: true });

  test("isolates exactly the refused rows, writes all others, and propagates other errors", async () => {
    const written: number[] = [];
    const rejected: number[] = [];
    let writes = 0;
    await writeIsolating(
      Array.from({ length: 40 }, (_, i) => i),
      {
        write: async (items) => {
          writes++;
          if (items.some((i) => bad.has(i))) throw rowError;
          written.push(...items);
        },
        isRowError: (e) => e === rowError,
        rejectOne: (i) => rejected.push(i),
      },
    );
    expect(rejected).toEqual([3, 17, 18]);
    expect(written.sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i).filter((i) => !bad.has(i)));
    expect(writes).toBeLessThan(40); // far fewer than row-by-row

    const fatal = new Error("connection lost");
    const err = await writeIsolating([1, 2, 3], { write: async () => Promise.reject(fatal), isRowError: () => false, rejectOne: () => undefined }).catch((e) => e);
    expect(err).toBe(fatal);
  });
});
