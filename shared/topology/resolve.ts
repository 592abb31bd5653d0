/**
 * Turns a validated topology file (user-facing shape, static defaults filled) into the ResolvedTopology every
 * other part of topofleet trusts: computed defaults (threads, group, prefix, DLQ, names), milliseconds and
 * bytes under their resolved names, and paths made absolute against the topology file's directory.
 */
import { statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, isAbsolute, resolve as resolvePath } from "node:path";
import { TOPOLOGY_DEFAULTS as D } from "./defaults.ts";
import type { Diagnostics } from "../config/diagnostics.ts";
import { deadLetterTopic, moduleBaseName } from "./rules.ts";
import type { TopologyFile } from "./schema/topology.ts";
import type { GroupMembership, LookupConfig, ReplicasConfig, ResolvedTopology, SourceConfig, StageConfig, TenantLimit } from "./types.ts";

/** Facts of the machine the topology is resolved on. */
export interface ResolveFacts {
  cores?: number;
}

/** Resolves a validated file; missing files referenced by it are added to `diag` (the caller throws). */
export function resolveTopology(f: TopologyFile, file: string, diag: Diagnostics, facts: ResolveFacts = {}): ResolvedTopology {
  const dir = dirname(file);
  const cores = facts.cores ?? availableParallelism();
  const ref = (path: string, value: string, candidates: readonly string[] = [""]) => localFile(dir, path, value, candidates, diag);
  const stages = f.stages.map((s, i): StageConfig => {
    const at = `stages[${i}].${s.kind}`;
    switch (s.kind) {
      case "enrich": {
        const v = s.value;
        return {
          kind: "enrich",
          name: v.name,
          threads: v.threads ?? Math.max(1, cores - 1),
          ingestTimestamp: v.ingestTimestamp,
          tenantFromSource: v.tenantFromSource,
          maxEventBytes: v.maxEventBytes,
          maxAttributes: v.maxAttributes,
          sliceTimeoutMs: v.sliceTimeout,
          lookups: v.lookups.map((l, j): LookupConfig => {
            const lp = `${at}.lookups[${j}].${l.kind}`;
            if (l.kind === "file") {
              const x = l.value;
              return { kind: "file", name: x.name ?? x.into, path: ref(`${lp}.path`, x.path), key: x.key, into: x.into };
            }
            const x = l.value;
            return { kind: "postgres", name: x.name ?? x.into, url: x.url, query: x.query, key: x.key, into: x.into, refreshMs: x.refresh };
          }),
          module: v.module === undefined ? null : ref(`${at}.module`, v.module, MODULE_EXTENSIONS),
        };
      }
      case "dedupe": {
        const v = s.value;
        return {
          kind: "dedupe",
          name: v.name,
          backend: v.backend,
          redisUrl: v.redis.url,
          prefix: v.prefix ?? `tf:${f.name}`,
          keyFields: v.key,
          expectedPerWindow: v.expectedPerWindow,
          falsePositiveRate: v.falsePositiveRate,
          windowMs: v.window,
          perTenant: v.perTenant,
          tenantFilters: v.tenantFilters,
          bloom: { ...v.redis.bloom },
          onMaybeSeen: v.onMaybeSeen,
          onRedisDown: v.onRedisDown,
          redisMode: v.redis.mode,
        };
      }
      case "limit": {
        const v = s.value;
        const limitOf = (l: (typeof v)["default"]): TenantLimit => ({
          events: l.rate,
          perMs: l.per,
          burst: l.burst ?? l.rate,
          quota: l.quota ?? null,
          quotaWindowMs: l.quotaWindow,
        });
        return {
          kind: "limit",
          name: v.name,
          redisUrl: v.redis.url,
          prefix: v.prefix ?? `tf:${f.name}:limit`,
          defaultLimit: limitOf(v.default),
          tenants: Object.fromEntries(Object.entries(v.tenants).map(([tenant, l]) => [tenant, limitOf(l)])),
          tenantsFile: v.tenantsFile === undefined ? null : ref(`${at}.tenantsFile`, v.tenantsFile),
          tenantsQuery: v.tenantsQuery === undefined ? null : { url: v.tenantsQuery.url, query: v.tenantsQuery.query, refreshMs: v.tenantsQuery.refresh },
          onLimit: v.onLimit,
          maxDelayMs: v.maxDelay,
          maxHeldEvents: v.maxHeldEvents,
          maxHeldBatches: v.maxHeldBatches,
          onRedisDown: v.onRedisDown,
          metricsTopTenants: v.metricsTopTenants,
        };
      }
      case "persist": {
        const v = s.value;
        return {
          kind: "persist",
          name: v.name,
          url: v.url,
          schema: v.schema,
          table: v.table,
          connections: v.connections,
          manageSchema: v.manageSchema,
          partitionsAheadDays: v.partitionsAheadDays,
          retentionDays: v.retentionDays,
          maintenanceIntervalMs: v.maintenanceInterval,
          ginIndexOnData: v.ginIndexOnData,
          columns: v.columns.map((c) => ({ column: c.column, from: c.from })),
          method: v.method,
        };
      }
      case "custom": {
        const v = s.value;
        return {
          kind: "custom",
          name: v.name ?? moduleBaseName(v.module)!,
          module: ref(`${at}.module`, v.module, MODULE_EXTENSIONS),
          options: v.options,
        };
      }
    }
  });
  return {
    file,
    name: f.name,
    source: resolveSource(f),
    stages,
    deadLetter: { topic: deadLetterTopic(f)! },
    batch: { maxEvents: f.batch.maxEvents, maxBytes: f.batch.maxBytes, maxWaitMs: f.batch.maxWait },
    concurrency: { replicas: resolveReplicas(f.concurrency.replicas), inFlightBatches: f.concurrency.inFlightBatches },
    http: { port: f.http.port, host: f.http.host },
    log: { level: f.log.level },
    shutdown: { deadlineMs: f.shutdown.deadline },
    tracing: {
      endpoint: f.tracing.endpoint ?? null,
      sampling: f.tracing.sampling,
      serviceName: f.tracing.serviceName ?? `topofleet-${f.name}`,
      headers: f.tracing.headers,
      maxQueueSpans: f.tracing.maxQueueSpans,
      exportTimeoutMs: f.tracing.exportTimeout,
      maxLinksPerBatch: f.tracing.maxLinksPerBatch,
    },
    warnings: diag.warnings,
  };
}

/** `replicas: N` means fixed: min = max = N. */
export function resolveReplicas(r: TopologyFile["concurrency"]["replicas"]): ReplicasConfig {
  if (typeof r === "number") return { min: r, max: r, lagPerReplica: D.concurrency.lagPerReplica };
  return { min: r.min, max: r.max, lagPerReplica: r.lagPerReplica };
}

/** Membership keys of either source kind; the heartbeat defaults to a fifth of the session timeout. */
function resolveMembership(s: { staticMembership: boolean; sessionTimeout: number; heartbeatInterval?: number }): GroupMembership {
  return {
    static: s.staticMembership,
    sessionTimeoutMs: s.sessionTimeout,
    heartbeatIntervalMs: s.heartbeatInterval ?? Math.max(100, Math.floor(s.sessionTimeout / 5)),
  };
}

function resolveSource(f: TopologyFile): SourceConfig {
  const group = `topofleet-${f.name}`;
  if (f.source.kafka) {
    const k = f.source.kafka;
    return {
      kind: "kafka",
      brokers: k.brokers,
      topics: k.topics,
      group: k.group ?? group,
      start: k.start,
      membership: resolveMembership(k),
      properties: k.properties,
    };
  }
  const m = f.source.mock!;
  const g = m.generator;
  return {
    kind: "mock",
    brokers: m.brokers,
    partitions: m.partitions,
    topics: m.topics,
    group: m.group ?? group,
    start: m.start,
    membership: resolveMembership(m),
    properties: m.properties,
    generator: g
      ? {
          rate: g.rate,
          events: g.events ?? null,
          tenants: g.tenants,
          duplicateRatio: g.duplicateRatio,
          invalidRatio: g.invalidRatio,
          binaryRatio: g.binaryRatio,
          payloadBytes: g.payloadBytes,
        }
      : null,
  };
}

// Module paths may omit the extension, as in an import specifier.
const MODULE_EXTENSIONS = ["", ".ts", ".js", ".mjs", ".mts"] as const;

/** An absolute path for a file referenced by the topology; a missing file is an issue at `path`. */
function localFile(dir: string, path: string, value: string, extensions: readonly string[], diag: Diagnostics): string {
  const abs = isAbsolute(value) ? value : resolvePath(dir, value);
  const found = extensions.map((e) => abs + e).find((p) => statSync(p, { throwIfNoEntry: false })?.isFile());
  if (!found) diag.add(path, `file not found: ${abs}${extensions.length > 1 ? ` (also tried ${extensions.slice(1).join(", ")})` : ""}`);
  return found ?? abs;
}
