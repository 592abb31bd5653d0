/**
 * Loads the enrich lookup tables on the main thread (threads never open files or database connections)
 * and keeps the PostgreSQL-backed ones fresh. Every change produces a new LookupShare for the next tasks.
 */
import type { Logger } from "pino";
import postgres from "postgres";
import { EnrichError } from "../../errors/index.ts";
import type { Metrics } from "../../telemetry/metrics.ts";
import { M } from "../../telemetry/names.ts";
import type { LookupConfig } from "./config.ts";
import { encodeLookupTables, type LookupTables } from "./lookup-codec.ts";
import type { LookupValue } from "./module-api.ts";
import type { LookupShare } from "./protocol.ts";

type PostgresLookup = Extract<LookupConfig, { kind: "postgres" }>;
type FileLookup = Extract<LookupConfig, { kind: "file" }>;

const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** A JSON file or query value as a lookup value (CloudEvents extension types), or undefined to leave the key out. */
function toLookupValue(v: unknown): LookupValue | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString("base64");
  return JSON.stringify(v);
}

/**
 * Reads a static lookup file: a JSON object mapping each key to a string, number or boolean (null values
 * are skipped). A missing or malformed file fails start: it will not fix itself, so not retriable.
 */
export async function loadLookupFile(cfg: FileLookup): Promise<Map<string, LookupValue>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await Bun.file(cfg.path).text());
  } catch (e) {
    throw new EnrichError("ENRICH_LOOKUP_UNAVAILABLE", `lookup ${cfg.name}: cannot read ${cfg.path}: ${errorMessage(e)}`, { retriable: false, cause: e });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new EnrichError("ENRICH_LOOKUP_UNAVAILABLE", `lookup ${cfg.name}: ${cfg.path} must hold a JSON object of key -> value`, { retriable: false });
  }
  const table = new Map<string, LookupValue>();
  for (const [k, v] of Object.entries(parsed)) {
    if (v !== null && typeof v === "object") {
      throw new EnrichError("ENRICH_LOOKUP_UNAVAILABLE", `lookup ${cfg.name}: value of ${JSON.stringify(k)} in ${cfg.path} must be a string, number or boolean`, { retriable: false });
    }
    const value = toLookupValue(v);
    if (value !== undefined) table.set(k, value);
  }
  return table;
}

/** A PostgreSQL lookup: one small connection, the query's first two columns as (key, value). Also the limit stage's tenant overrides. */
export class PostgresTable {
  private readonly sql: postgres.Sql;
  table = new Map<string, LookupValue>();
  lastError: string | null = null;
  private loading: Promise<void> | null = null;

  constructor(readonly cfg: PostgresLookup) {
    // One connection, closed when idle between refreshes; the URL may carry a password and is never logged.
    this.sql = postgres(cfg.url, { max: 1, idle_timeout: 30, connect_timeout: 10, onnotice: () => {} });
  }

  /** Runs the query and replaces the table; concurrent calls share one run. Throws on failure. */
  load(): Promise<void> {
    // finally() runs asynchronously, so it always clears the promise after it was stored.
    this.loading ??= this.query().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async query(): Promise<void> {
    const rows = await this.sql.unsafe(this.cfg.query).values();
    const table = new Map<string, LookupValue>();
    for (const row of rows) {
      if (row.length < 2) throw new Error("the query must return (key, value) columns");
      if (row[0] === null || row[0] === undefined) continue;
      const value = toLookupValue(row[1]);
      if (value !== undefined) table.set(String(row[0]), value);
    }
    this.table = table;
    this.lastError = null;
  }

  /** Closes the connection. */
  close(): Promise<void> {
    return this.sql.end({ timeout: 5 });
  }
}

/** All lookup tables of one enrich stage, with their current share for the threads. */
export class LookupSources {
  private readonly files = new Map<string, Map<string, LookupValue>>();
  private readonly pg: PostgresTable[] = [];
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private current: LookupShare | null = null;
  private version = 0;
  private closed = false;

  private constructor(
    private readonly order: readonly LookupConfig[],
    private readonly stage: string,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {}

  /**
   * Loads every table. A PostgreSQL table that cannot be loaded at start fails start with a retriable
   * ENRICH_LOOKUP_UNAVAILABLE (the database may come back); later refresh failures keep the last table.
   */
  static async start(configs: readonly LookupConfig[], deps: { stage: string; logger: Logger; metrics: Metrics }): Promise<LookupSources> {
    const sources = new LookupSources(configs, deps.stage, deps.logger, deps.metrics);
    try {
      for (const cfg of configs) {
        if (cfg.kind === "file") sources.files.set(cfg.name, await loadLookupFile(cfg));
        else {
          const table = new PostgresTable(cfg);
          sources.pg.push(table);
          try {
            await table.load();
          } catch (e) {
            throw new EnrichError("ENRICH_LOOKUP_UNAVAILABLE", `lookup ${cfg.name}: initial load failed: ${errorMessage(e)}`, { retriable: true, cause: e });
          }
        }
      }
    } catch (e) {
      await sources.close();
      throw e;
    }
    sources.publish();
    for (const table of sources.pg) {
      const timer = setInterval(() => void sources.refresh(table), table.cfg.refreshMs);
      timer.unref?.();
      sources.timers.push(timer);
    }
    return sources;
  }

  /** The tables for the next tasks, or null when the stage has no lookups. */
  share(): LookupShare | null {
    return this.current;
  }

  /** Lookups whose last refresh failed, for health details. */
  problems(): string[] {
    return this.pg.filter((t) => t.lastError !== null).map((t) => `lookup ${t.cfg.name} stale: ${t.lastError}`);
  }

  /** Reloads one PostgreSQL table now (the timer calls this); a failure is logged and the last table kept. */
  private async refresh(table: PostgresTable): Promise<boolean> {
    if (this.closed) return false;
    const labels = { stage: this.stage, lookup: table.cfg.name };
    try {
      await table.load();
    } catch (e) {
      table.lastError = errorMessage(e);
      this.metrics.counter(M.enrichLookupRefreshes).inc({ ...labels, outcome: "failed" });
      this.logger.warn({ lookup: table.cfg.name, err: table.lastError }, "enrich lookup refresh failed; keeping the last table");
      return false;
    }
    if (this.closed) return false;
    this.metrics.counter(M.enrichLookupRefreshes).inc({ ...labels, outcome: "ok" });
    this.publish();
    return true;
  }

  /** Refreshes every PostgreSQL table now; true when all succeeded. For tests and operators. */
  async refreshAll(): Promise<boolean> {
    const results = await Promise.all(this.pg.map((t) => this.refresh(t)));
    return results.every(Boolean);
  }

  private publish(): void {
    if (this.order.length === 0) return;
    const tables: LookupTables = new Map();
    for (const cfg of this.order) {
      tables.set(cfg.name, cfg.kind === "file" ? this.files.get(cfg.name)! : this.pg.find((t) => t.cfg.name === cfg.name)!.table);
    }
    this.current = { version: ++this.version, buffer: encodeLookupTables(tables) };
  }

  /** Stops refreshing and closes the database connections. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.all(
      this.pg.map((t) =>
        t.close().catch((e) => this.logger.warn({ lookup: t.cfg.name, err: errorMessage(e) }, "closing an enrich lookup connection failed")),
      ),
    );
  }
}
