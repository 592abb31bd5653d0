/**
 * Lookup tables as one SharedArrayBuffer. The main thread loads the tables (file, PostgreSQL) and encodes
 * them once per version; every task carries a reference to the current buffer (sharing it costs nothing)
 * and a thread decodes it only when the version changed. A thread that piscina starts to replace a dead
 * one therefore gets the current tables with its first task, which a one-shot broadcast would miss.
 */
import { pack, unpack } from "msgpackr";
import type { LookupValue } from "./module-api.ts";

/** Every lookup table by name. */
export type LookupTables = Map<string, Map<string, LookupValue>>;

/** Encodes the tables into a new SharedArrayBuffer. */
export function encodeLookupTables(tables: LookupTables): SharedArrayBuffer {
  const wire: Array<[string, string[], LookupValue[]]> = [];
  for (const [name, table] of tables) wire.push([name, [...table.keys()], [...table.values()]]);
  const bytes = pack(wire);
  const shared = new SharedArrayBuffer(bytes.byteLength);
  new Uint8Array(shared).set(bytes);
  return shared;
}

/** Decodes tables encoded by encodeLookupTables. */
export function decodeLookupTables(buffer: SharedArrayBuffer): LookupTables {
  // TextDecoder (msgpackr uses it for long strings) refuses views of shared memory in some runtimes; a private
  // copy is portable and is made once per version, not per task.
  const wire = unpack(new Uint8Array(buffer).slice()) as Array<[string, string[], LookupValue[]]>;
  const tables: LookupTables = new Map();
  for (const [name, keys, values] of wire) {
    const table = new Map<string, LookupValue>();
    for (let i = 0; i < keys.length; i++) table.set(keys[i], values[i]);
    tables.set(name, table);
  }
  return tables;
}
