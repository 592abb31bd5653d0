import type { ResolvedTopology } from "../topology/types.ts";
import { replicaBounds } from "../runtime/supervisor/autoscaler.ts";

/** Replica bounds every deployment target uses, so the supervisor, systemd and KEDA scale alike. */
export interface ScalingBounds {
  min: number;
  max: number;
  /** Consumer lag one replica is expected to carry (KEDA's lagThreshold). */
  lagPerReplica: number;
  /** Set when `max` was lowered to the partition count (more members than partitions would sit idle). */
  cappedFrom: number | null;
}

/** Replica bounds from the topology's lag policy: the supervisor's own rule (capped at the partition count when known). */
export function scalingBounds(t: ResolvedTopology, partitions?: number): ScalingBounds {
  const r = t.concurrency.replicas;
  const b = replicaBounds(r, partitions);
  return { min: b.min, max: b.max, lagPerReplica: r.lagPerReplica, cappedFrom: b.capped ? r.max : null };
}

/** A DNS-1123 name for units, services and Kubernetes objects: `topofleet-<topology name>`. */
export function deploymentName(t: ResolvedTopology): string {
  const slug = t.name.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40) || "pipeline";
  return `topofleet-${slug}`;
}

/** Kafka bootstrap servers and topic for external scalers; null for the in-process mock source. */
export function kafkaTarget(t: ResolvedTopology): { brokers: string; topic: string; group: string } | null {
  if (t.source.kind !== "kafka") return null;
  return { brokers: t.source.brokers, topic: t.source.topics[0], group: t.source.group };
}

/** Seconds a platform must wait for a graceful stop: the shutdown deadline plus a margin for process exit. */
export function stopTimeoutSeconds(t: ResolvedTopology): number {
  return Math.ceil(t.shutdown.deadlineMs / 1000) + 15;
}
