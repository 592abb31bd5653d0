/**
 * How many partitions the source topics have: the most consumer-group members that can get work, so the
 * cap for autoscaling and the figure `--explain` reasons with.
 */
import type { Logger } from "pino";
import type { KafkaSourceConfig, ResolvedTopology } from "../../topology/types.ts";

/** Sums the partitions of the topics a subscription list matches (names and `^regex` entries). */
export function countSubscribedPartitions(subscription: readonly string[], topics: ReadonlyArray<{ name: string; partitions: readonly unknown[] }>): number {
  const patterns = subscription.filter((s) => s.startsWith("^")).map((s) => new RegExp(s));
  const names = new Set(subscription.filter((s) => !s.startsWith("^")));
  let n = 0;
  for (const t of topics) if (names.has(t.name) || patterns.some((re) => re.test(t.name))) n += t.partitions.length;
  return n;
}

/**
 * Queries a real cluster's metadata (bounded by `timeoutMs`). Returns null, with a warning, when the cluster
 * cannot be reached or none of the topics exists yet: callers then run without a partition cap.
 */
export async function queryKafkaPartitions(source: KafkaSourceConfig, logger: Logger, timeoutMs = 5000): Promise<number | null> {
  const { Admin, connectionProperties } = await import("../../kafka/index.ts");
  let admin: InstanceType<typeof Admin> | null = null;
  try {
    admin = new Admin({ config: { ...connectionProperties(source.properties), "bootstrap.servers": source.brokers } });
    const n = countSubscribedPartitions(source.topics, await admin.listTopics(timeoutMs));
    if (n === 0) logger.warn({ topics: source.topics }, "source topics not found in the cluster metadata; partition count unknown");
    return n > 0 ? n : null;
  } catch (err) {
    logger.warn({ err: (err as Error).message }, "could not query the source partition count; continuing without it (no autoscaling cap)");
    return null;
  } finally {
    await admin?.close().catch(() => undefined);
  }
}

/** Partition count of the source: the mock's configuration, or a metadata query of the real cluster. */
export async function sourcePartitions(t: ResolvedTopology, logger: Logger): Promise<number | null> {
  if (t.source.kind === "mock") return t.source.partitions * t.source.topics.filter((n) => !n.startsWith("^")).length;
  return queryKafkaPartitions(t.source, logger);
}
