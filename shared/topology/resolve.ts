/**
 * Turns a validated topology file (user-facing shape, static defaults filled) into the ResolvedTopology every
 * other part of topofleet trusts: computed defaults (group, DLQ, tracing service name), milliseconds and bytes
 * under their resolved names. Each stage item is resolved by its spec (shared/stages/<kind>/spec.ts), with
 * paths made absolute against the topology file's directory.
 */
import { statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, isAbsolute, resolve as resolvePath } from "node:path";
import { TOPOLOGY_DEFAULTS as D } from "./defaults.ts";
import type { Diagnostics } from "../config/diagnostics.ts";
import { deadLetterTopic } from "./rules.ts";
import { specOf, type StageConfig } from "../stages/registry.ts";
import type { TopologyFile } from "./schema/topology.ts";
import type { GroupMembership, ReplicasConfig, ResolvedTopology, SourceConfig } from "./types.ts";

/** Facts of the machine the topology is resolved on. */
export interface ResolveFacts {
  cores?: number;
}

/** Resolves a validated file; missing files referenced by it are added to `diag` (the caller throws). */
export function resolveTopology(f: TopologyFile, file: string, diag: Diagnostics, facts: ResolveFacts = {}): ResolvedTopology {
  const dir = dirname(file);
  const cores = facts.cores ?? availableParallelism();
  const ref = (at: string, value: string, opts: { module?: boolean } = {}) => localFile(dir, at, value, opts.module ? MODULE_EXTENSIONS : [""], diag);
  const stages = f.stages.map((s, i): StageConfig => {
    const path = `stages[${i}].${s.kind}`;
    return specOf(s).resolve(s.value, { topologyName: f.name, path, cores, ref, diag }) as StageConfig;
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
    retry: {
      backoff: { initialMs: f.retry.initial, maxMs: f.retry.max, multiplier: f.retry.multiplier, jitter: f.retry.jitter },
      commit: { rebalanceRetryMs: f.retry.commit.rebalanceRetry, holdMaxMs: f.retry.commit.holdMax },
    },
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

/**
 * Membership keys of either source kind. A member learns of a rebalance from a heartbeat reply, and a
 * cooperative hand-over takes two rounds, so the default heartbeat (a tenth of the session timeout, at most
 * `heartbeatMaxMs`) bounds how long moved partitions sit unowned when a worker joins or leaves.
 */
function resolveMembership(s: { staticMembership: boolean; sessionTimeout: number; heartbeatInterval?: number }): GroupMembership {
  return {
    static: s.staticMembership,
    sessionTimeoutMs: s.sessionTimeout,
    heartbeatIntervalMs: s.heartbeatInterval ?? Math.max(100, Math.min(D.source.heartbeatMaxMs, Math.floor(s.sessionTimeout / 10))),
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
