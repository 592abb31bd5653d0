/**
 * The column mapping: which CloudEvents attribute goes to which table column, the SQL type a managed
 * table gives each attribute, and how one event's value for a column is read out of a batch. These are the
 * values the enrich threads put in each COPY line (in mapping order); the unnest writer and the identity
 * queries read them here, so both write methods store the same thing.
 */
import { ConfigError } from "../../errors/index.ts";
import type { EnrichedEvents, RecordBatch } from "../batch.ts";
import { columnAttribute } from "../batch-data.ts";
import type { ColumnMapping } from "./config.ts";

/** A CloudEvents attribute (or Kafka position) a column can be mapped from. */
export type Attribute = ColumnMapping["from"];

/** The default table layout (each attribute into a column of its name), in COPY line order. */
export { DEFAULT_COLUMNS } from "./config.ts";

/** Column definition per attribute in a table the stage manages. */
export const MANAGED_COLUMN_SQL: Readonly<Record<Attribute, string>> = {
  id: "text NOT NULL",
  source: "text NOT NULL",
  type: "text NOT NULL",
  subject: "text",
  time: "timestamptz NOT NULL",
  tenant: "text",
  data: "jsonb",
  extensions: "jsonb",
  ingested_at: "timestamptz NOT NULL DEFAULT now()",
  kafka_partition: "integer",
  kafka_offset: "bigint",
};

/** Event i's value for one attribute, as COPY text / unnest text wants it (numbers stay numbers). */
export function columnValue(from: Attribute, ev: EnrichedEvents, rec: RecordBatch, i: number): string | number | null {
  switch (from) {
    case "tenant":
      return ev.tenant[i];
    case "data":
      return ev.data[i];
    case "extensions":
      return ev.extensions[i];
    case "ingested_at":
      return new Date(ev.ingestedAt[i]).toISOString();
    case "kafka_partition":
      return rec.partitions[i];
    case "kafka_offset":
      return rec.offsets[i];
    default:
      return columnAttribute(ev, i, from) ?? null;
  }
}

/** Event i's values for every mapped column, in mapping order (what `copyLine` takes). */
export function rowValues(columns: readonly ColumnMapping[], ev: EnrichedEvents, rec: RecordBatch, i: number): Array<string | number | null> {
  return columns.map((c) => columnValue(c.from, ev, rec, i));
}

/** The mapping with the roles the stage needs located (column names, unquoted). */
export interface ResolvedColumns {
  mapping: readonly ColumnMapping[];
  names: string[];
  /** Primary-key identity: the columns mapped from source, id and time. */
  source: string;
  id: string;
  time: string;
  tenant: string | null;
  data: string | null;
  /** Where the Kafka position is stored; both present lets a retry recognise its own earlier rows. */
  kafkaPartition: string | null;
  kafkaOffset: string | null;
}

/** Locates the identity and Kafka-position columns; throws ConfigError when the identity is incomplete. */
export function resolveColumns(mapping: readonly ColumnMapping[]): ResolvedColumns {
  const find = (from: Attribute): string | null => mapping.find((c) => c.from === from)?.column ?? null;
  const missing = (["source", "id", "time"] as const).filter((a) => find(a) === null);
  if (missing.length) {
    throw new ConfigError(
      "CONFIG_INVALID",
      `persist columns must map ${missing.join(", ")}: (source, id, time) is the identity the stage writes and checks`,
    );
  }
  const names = mapping.map((c) => c.column);
  const dup = names.find((n, k) => names.indexOf(n) !== k);
  if (dup) throw new ConfigError("CONFIG_INVALID", `persist columns map column "${dup}" twice`);
  return {
    mapping,
    names,
    source: find("source")!,
    id: find("id")!,
    time: find("time")!,
    tenant: find("tenant"),
    data: find("data"),
    kafkaPartition: find("kafka_partition"),
    kafkaOffset: find("kafka_offset"),
  };
}
