/**
 * Which limit applies to a tenant: an override from the topology file, else one from the PostgreSQL query,
 * else one from the tenants file, else the default. Both sources are the enrich stage's lookup readers: the file
 * (tenant -> events per `default.per`) is read once at start with its file reader; the query's (tenant, rate)
 * rows are loaded with its PostgreSQL table, at start (failing start, retriable, when the database does not
 * answer) and every `refresh` (a failed reload keeps the last table, logged). A rate that is not a positive
 * integer fails start in the file, and is skipped with a warning in the query's rows.
 */
import type { Logger } from "pino";
import { LimitError } from "../../errors/index.ts";
import type { LimitStageConfig, TenantLimit } from "./config.ts";
import { loadLookupFile, PostgresTable } from "../enrich/lookup-sources.ts";
import type { LookupValue } from "../enrich/module-api.ts";
import type { TenantRequest } from "./script.ts";

/** The tenant key of events without a tenant. */
export const NO_TENANT = "-";

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Per-tenant limits of one limit stage. */
export class TenantLimits {
  private fromFile = new Map<string, TenantLimit>();
  private fromQuery = new Map<string, TenantLimit>();
  private table: PostgresTable | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private logger: Logger | null = null;

  constructor(private readonly cfg: LimitStageConfig) {}

  /** Reads the tenants file and loads the query's rows, then reloads them every `refresh`. Throws LimitError. */
  async load(logger: Logger): Promise<void> {
    this.logger = logger;
    if (this.cfg.tenantsFile !== null) await this.loadFile(this.cfg.tenantsFile);
    const q = this.cfg.tenantsQuery;
    if (q === null) return;
    this.table = new PostgresTable({ kind: "postgres", name: "tenants", url: q.url, query: q.query, key: "tenantid", into: "limit", refreshMs: q.refreshMs });
    try {
      await this.reload();
    } catch (err) {
      await this.close();
      throw new LimitError("LIMIT_CONFIG", `limit stage ${this.cfg.name}: tenantsQuery: initial load failed: ${message(err)}`, { retriable: true, cause: err });
    }
    this.timer = setInterval(() => void this.reload().catch((err) => this.logger?.warn({ err: message(err) }, "limit tenantsQuery reload failed; keeping the last table")), q.refreshMs);
    this.timer.unref?.();
  }

  /** Runs the query now and replaces its overrides (the timer calls this). Throws when the query fails. */
  async reload(): Promise<void> {
    const table = this.table;
    if (!table) return;
    await table.load();
    const out = new Map<string, TenantLimit>();
    for (const [tenant, v] of table.table) {
      const limit = this.limitFor(v);
      if (limit) out.set(tenant, limit);
      else this.logger?.warn({ tenant: tenant.slice(0, 200), value: String(v).slice(0, 100) }, "limit tenantsQuery: skipping a rate that is not a positive integer");
    }
    this.fromQuery = out;
  }

  /** Stops reloading and closes the query's connection. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const table = this.table;
    this.table = null;
    await table?.close().catch((err) => this.logger?.warn({ err: message(err) }, "closing the limit tenantsQuery connection failed"));
  }

  /** The limit of `tenant`. */
  of(tenant: string): TenantLimit {
    if (Object.hasOwn(this.cfg.tenants, tenant)) return this.cfg.tenants[tenant];
    return this.fromQuery.get(tenant) ?? this.fromFile.get(tenant) ?? this.cfg.defaultLimit;
  }

  /** The script request for `count` events of `tenant`; `maxWaitMs` -1 unless the policy delays. */
  request(tenant: string, count: number, maxWaitMs: number): TenantRequest {
    const l = this.of(tenant);
    const intervalMs = l.perMs / l.events;
    return { tenant, count, intervalMs, toleranceMs: (l.burst - 1) * intervalMs, quota: l.quota, quotaWindowMs: l.quotaWindowMs, maxWaitMs };
  }

  private async loadFile(path: string): Promise<void> {
    let table;
    try {
      table = await loadLookupFile({ kind: "file", name: "tenants", path, key: "tenantid", into: "limit" });
    } catch (err) {
      throw new LimitError("LIMIT_CONFIG", `limit stage ${this.cfg.name}: ${message(err)}`, { retriable: false, cause: err });
    }
    const out = new Map<string, TenantLimit>();
    for (const [tenant, v] of table) {
      const limit = this.limitFor(v);
      if (!limit) {
        throw new LimitError("LIMIT_CONFIG", `limit stage ${this.cfg.name}: ${path}: tenant ${JSON.stringify(tenant)} has ${JSON.stringify(v)}, want a positive integer (events per ${this.cfg.defaultLimit.perMs} ms)`, {
          retriable: false,
        });
      }
      out.set(tenant, limit);
    }
    this.fromFile = out;
  }

  /** The default limit scaled to `rate` events per period (burst scaled alike), or null for a bad rate. */
  private limitFor(v: LookupValue): TenantLimit | null {
    const rate = Number(v);
    if (!Number.isInteger(rate) || rate < 1) return null;
    const d = this.cfg.defaultLimit;
    return { ...d, events: rate, burst: Math.max(1, Math.round((d.burst * rate) / d.events)) };
  }
}
