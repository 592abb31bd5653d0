/**
 * Replay: runs a planned range of a topic (a time window of the source, or a whole dead-letter topic)
 * through a topology's stages under a NEW consumer group, then stops.
 *
 * Why a new group with pre-committed offsets: the fleet's own group keeps its position untouched, and
 * committing the range's start offsets for the new group before subscribing makes the group start exactly
 * there (no seek races with the first fetch). Offsets are committed after each batch settles, as the engine
 * does, so the group's lag shows the replay's progress; an interrupted replay is simply run again under a
 * new group (what it already stored comes out as duplicates).
 *
 * Exactness: the stages are the topology's own (enrich → dedupe → persist), so an event that is already in
 * the table comes out as a duplicate (the Bloom filter says "maybe seen", PostgreSQL confirms; or the
 * insert conflicts) and adds no row. Batches are processed one at a time: replay favours simplicity over
 * the engine's pipelining.
 */
import { needsOf } from "../stages/registry.ts";
import type { Logger } from "pino";
import { ConfigError } from "../errors/index.ts";
import { Consumer, Producer } from "../kafka/index.ts";
import type { ConsumedMessage, KafkaConfig } from "../kafka/types.ts";
import { runPipeline } from "../runtime/engine/batch-pipeline.ts";
import { EngineMetrics } from "../runtime/engine/engine-metrics.ts";
import { consumerConfig, deadLetterLimit, deadLetterProducerConfig } from "../runtime/engine/kafka-config.ts";
import { Batch, EventStatus } from "../stages/batch.ts";
import { createStages } from "../stages/index.ts";
import { packRecords, type RecordInput } from "../stages/records.ts";
import type { Stage } from "../stages/stage.ts";
import { Metrics } from "../telemetry/metrics.ts";
import type { ResolvedTopology } from "../topology/types.ts";
import { topicPartitions } from "../topic-reader/metadata.ts";
import { planReplay, type ReplayPlan, type ReplayWindow } from "./plan.ts";
import { readRanges } from "../topic-reader/range-reader.ts";
import { JUMP_CODES } from "../runtime/engine/offset-jumps.ts";

/** Headers the engine adds to dead letters; stripped so a replayed dead letter looks like the original. */
export const ENGINE_HEADER_PREFIX = "topofleet-";
/** Worker id written into dead letters produced by a replay (`topofleet-worker`); real workers are >= 0. */
export const REPLAY_WORKER_ID = -1;

export interface ReplayOptions {
  /** The topology whose stages process the replay (launch overrides already applied: a real persist URL). */
  topology: ResolvedTopology;
  brokers: string;
  topic: string;
  window: ReplayWindow;
  /** A consumer group that has never committed on `topic` (checked). */
  group: string;
  dryRun: boolean;
  logger: Logger;
  dataDir: string;
  signal?: AbortSignal;
  onProgress?: (p: ReplayProgress) => void;
}

/** Counts of a replay so far. */
export interface ReplayProgress {
  replayed: number;
  persisted: number;
  duplicates: number;
  invalid: number;
  /** Offsets of the planned ranges the broker deleted before the replay read them (retention): not replayed. */
  deletedBeforeRead: number;
}

export interface ReplayResult extends ReplayProgress {
  plan: ReplayPlan;
  group: string;
  dryRun: boolean;
}

/** The consumer config of the replay group: the topology's source settings with the new group id. */
function replayConsumerConfig(o: ReplayOptions): KafkaConfig {
  // A one-off member of its own group: dynamic, so it leaves the group when done (a static one would not).
  const membership = { ...o.topology.source.membership, static: false };
  const topology = { ...o.topology, source: { ...o.topology.source, membership } } as ResolvedTopology;
  return { ...consumerConfig(topology, REPLAY_WORKER_ID, o.brokers), "group.id": o.group, "auto.offset.reset": "earliest" };
}

/** Plans the replay and, unless dryRun, runs it (see the module doc). */
export async function runReplay(o: ReplayOptions): Promise<ReplayResult> {
  const cfg = replayConsumerConfig(o);
  // Connection settings only (security properties included): what the admin and scan clients need.
  const { "enable.idempotence": _idempotence, acks: _acks, ...connection } = deadLetterProducerConfig(o.topology, REPLAY_WORKER_ID, o.brokers);
  const partitions = await topicPartitions(connection, o.topic);
  if (partitions.length === 0) throw new ConfigError("CONFIG_INVALID", `topic "${o.topic}" does not exist on ${o.brokers}`);

  const setup = new Consumer({ config: cfg });
  let plan: ReplayPlan;
  try {
    plan = await planReplay(setup, connection, o.topic, partitions, o.window);
    const result: ReplayResult = { plan, group: o.group, dryRun: o.dryRun, replayed: 0, persisted: 0, duplicates: 0, invalid: 0, deletedBeforeRead: 0 };
    if (o.dryRun || plan.messages === 0) return result;
    const already = (await setup.committed(partitions.map((partition) => ({ topic: o.topic, partition })))).filter((c) => c.offset >= 0);
    if (already.length)
      throw new ConfigError("CONFIG_USAGE", `consumer group "${o.group}" already has committed offsets on ${o.topic}: choose a new --group (or omit it)`);
    await setup.commit(
      plan.ranges.map((r) => ({ topic: o.topic, partition: r.partition, offset: r.start })),
      { sync: true },
    );
  } finally {
    await setup.close();
  }
  return replayRange(o, cfg, plan);
}

async function replayRange(o: ReplayOptions, cfg: KafkaConfig, plan: ReplayPlan): Promise<ReplayResult> {
  const t = o.topology;
  const metrics = new Metrics();
  // Rows from these very records were counted by the pipeline that wrote them: here they are duplicates.
  const stages: Stage[] = await createStages({ ...t, stages: t.stages.map((s) => (s.kind === "persist" ? { ...s, redelivery: "duplicate" as const } : s)) });
  const started: Stage[] = [];
  const producer = new Producer({ config: deadLetterProducerConfig(t, REPLAY_WORKER_ID, o.brokers) });
  const consumer = new Consumer({ config: cfg, onError: (err) => o.logger.warn({ err: err.message }, "replay consumer error") });
  const counts: ReplayProgress = { replayed: 0, persisted: 0, duplicates: 0, invalid: 0, deletedBeforeRead: 0 };
  const abandon = new AbortController();
  const onAbort = () => abandon.abort();
  o.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for (const stage of stages) {
      await stage.start({ topology: t, workerId: REPLAY_WORKER_ID, logger: o.logger.child({ stage: stage.name }), metrics, dataDir: o.dataDir, stages, needsOf });
      started.push(stage);
    }
    const deps = {
      stages,
      metrics: new EngineMetrics(metrics),
      logger: o.logger,
      workerId: REPLAY_WORKER_ID,
      deadLetterTopic: t.deadLetter.topic,
      deadLetterMaxBytes: deadLetterLimit(t),
      produce: (records: Parameters<Producer["sendBatch"]>[0]) => producer.sendBatch(records),
      onRetrying: () => {}, // one batch at a time: nothing else to pause
    };
    consumer.subscribe([o.topic]);
    await readRanges({
      consumer,
      topic: o.topic,
      ranges: plan.ranges,
      signal: o.signal,
      maxMessages: t.batch.maxEvents,
      onJump: (j) => {
        if (j.reason !== "deleted_before_read") return;
        counts.deletedBeforeRead += j.count;
        o.logger.warn(
          { code: JUMP_CODES.deleted_before_read, topic: j.topic, partition: j.partition, from: j.from, to: j.to, count: j.count },
          `the broker deleted ${j.count} events of ${j.topic}[${j.partition}] (offsets ${j.from}..${j.to - 1}) before the replay read them: not replayed`,
        );
      },
      onBatch: async (messages) => {
        const batch = new Batch(packRecords(messages.map(toRecordInput)));
        await runPipeline(batch, deps, abandon.signal);
        counts.replayed += batch.size;
        counts.persisted += batch.count(EventStatus.Persisted);
        counts.duplicates += batch.count(EventStatus.Duplicate);
        counts.invalid += batch.count(EventStatus.DeadLettered);
        // Every event of the batch is terminal and its dead letters are acknowledged: commit past it.
        const next = new Map<number, number>();
        for (const m of messages) next.set(m.partition, Math.max(next.get(m.partition) ?? 0, m.offset + 1));
        await consumer.commit(
          [...next].map(([partition, offset]) => ({ topic: o.topic, partition, offset })),
          { sync: true },
        );
        o.onProgress?.({ ...counts });
      },
    });
    return { plan, group: o.group, dryRun: false, ...counts };
  } finally {
    o.signal?.removeEventListener("abort", onAbort);
    await consumer.close();
    await producer.close();
    for (const s of started.reverse()) await s.close();
  }
}

/** A consumed message as pipeline input, without the engine's dead-letter headers. */
function toRecordInput(m: ConsumedMessage): RecordInput {
  const headers = m.headers?.filter(([k]) => !k.startsWith(ENGINE_HEADER_PREFIX)) ?? null;
  return { topic: m.topic, partition: m.partition, offset: m.offset, timestamp: m.timestamp, key: m.key, value: m.value, headers };
}
