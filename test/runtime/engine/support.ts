/** Shared fixtures for the engine tests: topologies, test stages, engines, an ownership audit (Kafka helpers are in dev/support/kafka.ts). */
import { join } from "node:path";
import { Consumer, Producer, type ConsumedMessage, type TopicPartitionOffset } from "../../../shared/kafka/index.ts";
import { GROUP_TIMEOUTS, type TestKafka } from "../../../dev/support/kafka.ts";
import { Engine, type EngineHooks } from "../../../shared/runtime/engine/engine.ts";
import { createStages } from "../../../shared/stages/index.ts";
import { createLogger } from "../../../shared/telemetry/logger.ts";
import { Metrics } from "../../../shared/telemetry/metrics.ts";
import { DEFAULT_RETRY, TRACING_OFF } from "../../../shared/topology/defaults.ts";
import type { GroupMembership, ResolvedTopology, RetryConfig, StageConfig, TracingConfig } from "../../../shared/topology/types.ts";
import { uniqueName } from "../../../dev/support/services.ts";
import type { FaultPoints } from "../../../shared/runtime/engine/fault-points.ts";
import type { BackoffPolicy } from "../../../shared/timing/backoff.ts";

export { uniqueName };

/** Absolute path of a test-stage module under fixtures/. */
export const fixture = (name: string): string => join(import.meta.dir, "fixtures", name);

/** A custom stage config for a fixture module. */
export function testStage(module: string, options: Record<string, unknown>, name = module.replace(/\.ts$/, "")): StageConfig {
  return { kind: "custom", name, module: fixture(module), options };
}

/** A pipeline that never finishes a batch: a stage failing retriably forever (observed as `id`), then a sink. */
export function stuckStages(id: string): StageConfig[] {
  return [testStage("flaky-stage.ts", { id, failures: -1 }, "flaky"), testStage("recording-sink.ts", { id: uniqueName("never") })];
}

/** Consumer settings that make group joins and rebalances quick on the test Kafka (see GROUP_TIMEOUTS). */
export const FAST_GROUP = { ...GROUP_TIMEOUTS, "max.poll.interval.ms": "60000" };

/**
 * Group membership of test engines: the FAST_GROUP timings (GROUP_TIMEOUTS: short on the mock, the 6 s a
 * real broker accepts at least). Dynamic by default, because tests run several engines with one worker id in
 * a process.
 */
export function testMembership(o: { static?: boolean } = {}): GroupMembership {
  return {
    static: o.static ?? false,
    sessionTimeoutMs: Number(GROUP_TIMEOUTS["session.timeout.ms"]),
    heartbeatIntervalMs: Number(GROUP_TIMEOUTS["heartbeat.interval.ms"]),
  };
}

/** A resolved topology around a Kafka source (the mock's bootstraps) and the given stages. */
export function topologyFor(o: {
  brokers: string;
  topic: string;
  group: string;
  stages: StageConfig[];
  dlq?: string;
  maxEvents?: number;
  maxBytes?: number;
  maxWaitMs?: number;
  inFlight?: number;
  deadlineMs?: number;
  properties?: Record<string, string>;
  staticMembership?: boolean;
  tracing?: TracingConfig;
  retry?: RetryConfig;
}): ResolvedTopology {
  return {
    file: "/test/topology.yaml",
    name: "enginetest",
    source: { kind: "kafka", brokers: o.brokers, topics: [o.topic], group: o.group, start: "earliest", membership: testMembership({ static: o.staticMembership }), properties: { "max.poll.interval.ms": FAST_GROUP["max.poll.interval.ms"], ...o.properties } },
    stages: o.stages,
    deadLetter: { topic: o.dlq ?? `${o.topic}.dlq` },
    batch: { maxEvents: o.maxEvents ?? 500, maxBytes: o.maxBytes ?? 8 * 1024 * 1024, maxWaitMs: o.maxWaitMs ?? 20 },
    concurrency: { replicas: { min: 1, max: 1, lagPerReplica: 1000 }, inFlightBatches: o.inFlight ?? 4 },
    http: { port: 0, host: "127.0.0.1" },
    log: { level: "warn" },
    shutdown: { deadlineMs: o.deadlineMs ?? 20_000 },
    tracing: o.tracing ?? TRACING_OFF,
    retry: o.retry ?? DEFAULT_RETRY,
    warnings: [],
  };
}

/** Builds an engine (not started) with its own metrics registry. */
export async function makeEngine(
  topology: ResolvedTopology,
  opts: { workerId?: number; hooks?: EngineHooks; backoff?: Partial<BackoffPolicy>; faults?: FaultPoints; backpressurePauseAfterMs?: number } = {},
) {
  const metrics = new Metrics();
  // A test's backoff is the topology's `retry:` backoff, as a user would set it.
  if (opts.backoff) topology = { ...topology, retry: { ...topology.retry, backoff: { ...topology.retry.backoff, ...opts.backoff } } };
  const engine = new Engine({
    topology,
    workerId: opts.workerId ?? 0,
    brokers: topology.source.kind === "kafka" ? topology.source.brokers : "",
    stages: await createStages(topology),
    logger: createLogger({ level: process.env.TOPOFLEET_LOG_LEVEL ?? "warn", workerId: opts.workerId ?? 0, component: "engine-test" }),
    metrics,
    dataDir: "/tmp",
    lagIntervalMs: 500,
    hooks: opts.hooks,
    faults: opts.faults,
    backpressurePauseAfterMs: opts.backpressurePauseAfterMs,
  });
  return { engine, metrics };
}

/**
 * Watches one engine: the partitions it owns (from its rebalance events), every commit it issues (which must
 * target an owned partition at that moment), the commits acknowledged (with their time), revocations that
 * librdkafka reported as lost, and sync commits that failed.
 */
export class OwnershipAudit {
  readonly owned = new Set<string>();
  readonly violations: string[] = [];
  readonly commits: TopicPartitionOffset[] = [];
  readonly acknowledged: Array<TopicPartitionOffset & { at: number }> = [];
  lostRevocations = 0;
  failedSyncCommits = 0;

  readonly hooks: EngineHooks = {
    commitIssued: (offsets) => {
      for (const o of offsets) {
        this.commits.push(o);
        if (!this.owned.has(`${o.topic}/${o.partition}`)) this.violations.push(`commit of ${o.topic}[${o.partition}]@${o.offset} while not owned`);
      }
    },
    commitSettled: (offsets, sync, error) => {
      if (error === null) for (const o of offsets) this.acknowledged.push({ ...o, at: performance.now() });
      else if (sync) this.failedSyncCommits++;
    },
    rebalanced: (e) => {
      if (e.type === "revoked" && e.lost) this.lostRevocations++;
      for (const tp of e.partitions) {
        if (e.type === "assigned") this.owned.add(`${tp.topic}/${tp.partition}`);
        else this.owned.delete(`${tp.topic}/${tp.partition}`);
      }
    },
  };

  /** True when this engine had an acknowledged commit of `partition` beyond `offset` before time `before`. */
  committedBeyond(partition: number, offset: number, before: number): boolean {
    return this.acknowledged.some((c) => c.partition === partition && c.offset > offset && c.at < before);
  }
}
