/**
 * librdkafka configuration for one worker's consumer and dead-letter producer, derived from the topology
 * and from what the supervisor passed at launch (the mock cluster's bootstraps, the embedded database URL).
 */
import { hostname } from "node:os";
import { ConfigError } from "../../errors/index.ts";
import type { KafkaConfig } from "../../kafka/types.ts";
import { connectionProperties } from "../../kafka/client/connection-properties.ts";
import { DEFAULT_MAX_EVENT_BYTES } from "../../config/common.ts";
import { specOf } from "../../stages/registry.ts";
import type { ResolvedTopology } from "../../topology/types.ts";
import { deadLetterMaxBytes } from "./dead-letter.ts";

/** The launch-time facts that override parts of the topology file. */
export interface LaunchOverrides {
  brokersOverride: string | null;
  databaseUrlOverride: string | null;
}

/**
 * Replaces launch-dependent values in the topology through each stage spec's applyLaunch (e.g. a persist
 * `url: embedded` becomes the supervisor's embedded PostgreSQL URL). Returns a new object; the input is not modified.
 */
export function applyLaunchOverrides(t: ResolvedTopology, launch: LaunchOverrides): ResolvedTopology {
  const facts = { embeddedDatabaseUrl: launch.databaseUrlOverride };
  const stages = t.stages.map((s) => specOf(s).applyLaunch?.(s, facts) ?? s);
  return { ...t, stages };
}

/** The bootstrap servers of the source: the file's list, or the supervisor's mock cluster for a mock source. */
export function sourceBrokers(t: ResolvedTopology, launch: LaunchOverrides): string {
  if (launch.brokersOverride) return launch.brokersOverride;
  if (t.source.kind === "kafka") return t.source.brokers;
  throw new ConfigError(
    "CONFIG_INVALID",
    "a mock source lives in the supervisor process: run the worker through `bun run topology` (no brokersOverride was given)",
  );
}

/**
 * The group.instance.id of one worker slot: the same for every restart of the slot (so the restarted
 * process is the same static member and takes its partitions back without a rebalance), and different for
 * every slot of every host running the group (two live members with one id fence each other). The host part
 * is `$TOPOFLEET_INSTANCE` (the systemd units set it to host and instance), else the host name (a pod's or a
 * container's own name). Kafka allows letters, digits, `.`, `_` and `-`, up to 249 characters.
 */
export function groupInstanceId(t: ResolvedTopology, workerId: number, instance: string = process.env.TOPOFLEET_INSTANCE || hostname()): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, "_");
  return `${safe(t.source.group)}.${safe(instance)}.${workerId}`.slice(-249);
}

/**
 * The consumer's config. Offsets are committed only by the engine, so auto commit and auto store are forced
 * off; the membership keys of the topology set the static identity, session timeout and heartbeat.
 */
export function consumerConfig(t: ResolvedTopology, workerId: number, brokers: string, instance?: string): KafkaConfig {
  const m = t.source.membership;
  return {
    "client.id": `topofleet-${t.name}-${workerId}`,
    // Incremental rebalancing: a member joining or leaving moves only the partitions that must move, so the
    // other members keep their in-flight batches instead of draining everything (the eager protocol).
    "partition.assignment.strategy": "cooperative-sticky",
    ...t.source.properties,
    "bootstrap.servers": brokers,
    "group.id": t.source.group,
    "auto.offset.reset": t.source.start,
    "session.timeout.ms": String(m.sessionTimeoutMs),
    "heartbeat.interval.ms": String(m.heartbeatIntervalMs),
    ...(m.static ? { "group.instance.id": groupInstanceId(t, workerId, instance) } : {}),
    "enable.auto.commit": "false",
    "enable.auto.offset.store": "false",
  };
}

/** The largest dead letter a topology's producer sends: from the largest event its stages accept, e.g. enrich's maxEventBytes (dead-letter.ts). */
export function deadLetterLimit(t: ResolvedTopology): number {
  const bounds = t.stages.flatMap((s) => specOf(s).maxEventBytes?.(s) ?? []);
  return deadLetterMaxBytes(bounds.length ? Math.max(...bounds) : DEFAULT_MAX_EVENT_BYTES);
}

/** The dead-letter producer's config: idempotent with acks=all, so an acknowledged dead letter is durable and not duplicated by retries. */
export function deadLetterProducerConfig(t: ResolvedTopology, workerId: number, brokers: string): KafkaConfig {
  return {
    // Connection and security settings only: consumer tuning would draw CONFWARNs on a producer.
    ...connectionProperties(t.source.properties),
    "client.id": `topofleet-${t.name}-${workerId}-dlq`,
    "bootstrap.servers": brokers,
    "enable.idempotence": "true",
    acks: "all",
    "message.max.bytes": String(deadLetterLimit(t)),
  };
}
