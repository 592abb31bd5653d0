/** The resolved config of the dedupe stage (see ./spec.ts for its schema and resolver). */
import type { StageConfigBase } from "../stage-config.ts";

export interface DedupeStageConfig extends StageConfigBase {
  kind: "dedupe";
  name: string;
  backend: "redis" | "memory";
  redisUrl: string; // may carry a password / rediss:// TLS; never logged
  prefix: string; // key prefix for filters
  keyFields: string[]; // CloudEvents attributes forming the identity; default ["source", "id"]
  expectedPerWindow: number;
  falsePositiveRate: number;
  windowMs: number; // filter rotation period; current and previous window are checked
  perTenant: boolean; // tenants hashed onto `tenantFilters` filters, hash-tagged for Redis Cluster
  /** With perTenant: how many filters tenants are hashed onto; they share expectedPerWindow (see dedupe/sizing.ts). */
  tenantFilters: number;
  /** BF.* growth past capacity: EXPANSION, NONSCALING, and the cap on sub-filters that bounds memory. */
  bloom: { expansion: number; nonScaling: boolean; maxFilters: number };
  onMaybeSeen: "verify" | "drop";
  onRedisDown: "fail" | "passthrough";
  /** "auto" probes for BF.* at start; "bitmap" forces the portable BITFIELD filter. */
  redisMode: "auto" | "bloom" | "bitmap";
}

