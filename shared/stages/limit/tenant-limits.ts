/**
 * Which limit applies to a tenant: an override from the topology file, else one from the tenants file, else the
 * default. The tenants file (tenant -> events per `default.per`) is read once at start with the enrich stage's
 * lookup-file reader, so it has the same format and errors as an enrich file lookup.
 */
import { LimitError } from "../../errors/index.ts";
import type { LimitStageConfig, TenantLimit } from "../../topology/types.ts";
import { loadLookupFile } from "../enrich/lookup-sources.ts";
import type { TenantRequest } from "./script.ts";

/** The tenant key of events without a tenant. */
export const NO_TENANT = "-";

/** Per-tenant limits of one limit stage. */
export class TenantLimits {
  private fromFile = new Map<string, TenantLimit>();

  constructor(private readonly cfg: LimitStageConfig) {}

  /** Reads the tenants file, when there is one. Throws LIMIT_CONFIG for a missing file or a value that is not a positive integer. */
  async load(): Promise<void> {
    if (this.cfg.tenantsFile === null) return;
    let table;
    try {
      table = await loadLookupFile({ kind: "file", name: "tenants", path: this.cfg.tenantsFile, key: "tenantid", into: "limit" });
    } catch (err) {
      throw new LimitError("LIMIT_CONFIG", `limit stage ${this.cfg.name}: ${err instanceof Error ? err.message : String(err)}`, { retriable: false, cause: err });
    }
    const d = this.cfg.defaultLimit;
    const out = new Map<string, TenantLimit>();
    for (const [tenant, v] of table) {
      const rate = Number(v);
      if (!Number.isInteger(rate) || rate < 1) {
        throw new LimitError("LIMIT_CONFIG", `limit stage ${this.cfg.name}: ${this.cfg.tenantsFile}: tenant ${JSON.stringify(tenant)} has ${JSON.stringify(v)}, want a positive integer (events per ${d.perMs} ms)`, {
          retriable: false,
        });
      }
      out.set(tenant, { ...d, events: rate, burst: Math.max(1, Math.round((d.burst * rate) / d.events)) });
    }
    this.fromFile = out;
  }

  /** The limit of `tenant`. */
  of(tenant: string): TenantLimit {
    return Object.hasOwn(this.cfg.tenants, tenant) ? this.cfg.tenants[tenant] : (this.fromFile.get(tenant) ?? this.cfg.defaultLimit);
  }

  /** The script request for `count` events of `tenant`; `maxWaitMs` -1 unless the policy delays. */
  request(tenant: string, count: number, maxWaitMs: number): TenantRequest {
    const l = this.of(tenant);
    const intervalMs = l.perMs / l.events;
    return { tenant, count, intervalMs, toleranceMs: (l.burst - 1) * intervalMs, quota: l.quota, quotaWindowMs: l.quotaWindowMs, maxWaitMs };
  }
}
