/**
 * Identifier quoting for the SQL the stage composes. Table and column names come from the topology file,
 * so every one is quoted; values always travel as parameters or COPY data, never inside SQL text.
 */
import { ConfigError } from "../../errors/index.ts";

/** PostgreSQL's identifier limit (NAMEDATALEN - 1); longer names would be silently truncated. */
export const MAX_IDENTIFIER = 63;
/** Room the stage needs after a table name for its partition suffix `_pYYYYMMDD`. */
const PARTITION_SUFFIX = 10;

/** Quotes one identifier ("a""b"). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The table the stage writes to. */
export interface Target {
  schema: string;
  table: string;
  /** "schema"."table", ready for SQL text (also accepted by ::regclass). */
  sql: string;
}

/** Builds the target; rejects names PostgreSQL would truncate, since partition names derive from them. */
export function target(schema: string, table: string): Target {
  if (!schema || schema.length > MAX_IDENTIFIER) throw new ConfigError("CONFIG_INVALID", `persist schema "${schema}" must be 1..${MAX_IDENTIFIER} characters`);
  if (!table || table.length > MAX_IDENTIFIER - PARTITION_SUFFIX) {
    throw new ConfigError("CONFIG_INVALID", `persist table "${table}" must be 1..${MAX_IDENTIFIER - PARTITION_SUFFIX} characters (partition names append _pYYYYMMDD)`);
  }
  return { schema, table, sql: `${quoteIdent(schema)}.${quoteIdent(table)}` };
}

/**
 * A derived object name (index, staging table) within the identifier limit. A long table name is cut and
 * tagged with a hash of the full name, so two long tables in one schema never share an index name.
 */
export function derivedName(table: string, suffix: string): string {
  const room = MAX_IDENTIFIER - suffix.length;
  if (table.length <= room) return table + suffix;
  return `${table.slice(0, room - 9)}_${fnv1a(table).toString(16).padStart(8, "0")}${suffix}`;
}

/** FNV-1a 32-bit: a stable, dependency-free hash for names. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
