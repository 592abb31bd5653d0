/**
 * Runs one batch through the stages, strictly in order, then dead-letters its rejected events. Resolves
 * only when every event is terminal and every dead letter is acknowledged by Kafka: that is the moment
 * the batch's offsets may be committed (the engine does that; this module never commits).
 */
import type { Logger } from "pino";
import { RuntimeError, TopofleetError } from "../../errors/index.ts";
import { KafkaError } from "../../kafka/errors.ts";
import type { ProduceRecord } from "../../kafka/types.ts";
import { EventStatus, type Batch } from "../../stages/batch.ts";
import { isHoldingStage, type HoldingStage, type Stage } from "../../stages/stage.ts";
import type { PipelineTracing } from "../../tracing/api.ts";
import type { BackoffPolicy } from "../../timing/backoff.ts";
import { deadLetterRecords, DLQ_HEADERS, fitDeadLetter } from "./dead-letter.ts";
import type { EngineMetrics } from "./engine-metrics.ts";
import { errorJson } from "./error-json.ts";
import type { FaultPoints } from "./fault-points.ts";
import { retrying } from "./retry.ts";

/** Label used for the dead-letter step in retry metrics and logs. */
export const DEAD_LETTER_STEP = "dead-letter";

/** What the pipeline needs from the engine. */
export interface PipelineDeps {
  stages: readonly Stage[];
  metrics: EngineMetrics;
  logger: Logger;
  workerId: number;
  deadLetterTopic: string;
  /** The dead-letter producer's message.max.bytes (kafka-config.ts deadLetterLimit). */
  deadLetterMaxBytes: number;
  backoff?: BackoffPolicy;
  /** Produces records and resolves when Kafka acknowledged all of them (the binding's Producer.sendBatch). */
  produce(records: ProduceRecord[]): Promise<unknown>;
  /** Called with true when a step of the batch starts retrying, false when it recovered: pause / resume. */
  onRetrying(batch: Batch, retrying: boolean): void;
  /**
   * Called with a message when a dead letter cannot be produced even as a reference (the broker refuses it as
   * too large): the batch's partitions stay paused and readiness reports it; null when it went through.
   */
  onDeadLetterStuck?(batch: Batch, problem: string | null): void;
  /** Batch spans (shared/telemetry/tracing); absent when tracing is off. */
  tracing?: PipelineTracing | null;
  /** When the consume call that produced the batch started (epoch ms), for the consume span. */
  fetchStartedAt?(batch: Batch): number | undefined;
  /** Told how many events of the batch are held while it waits for their release (0 when it resumes). */
  onHeld?(batch: Batch, held: number): void;
  /** Test hook (fault-points.ts): told when a batch passed a stage; null unless TOPOFLEET_FAULT is set. */
  faults?: FaultPoints | null;
}

/** librdkafka's name for a message over message.max.bytes (local or broker-side). */
const MSG_SIZE_TOO_LARGE = "MSG_SIZE_TOO_LARGE";

/** Counts per status, indexed by EventStatus. */
export type StatusCounts = [number, number, number, number, number, number];

/** Counts per status, indexed by EventStatus. */
function statusCounts(batch: Batch): StatusCounts {
  const c: StatusCounts = [0, 0, 0, 0, 0, 0];
  const s = batch.status;
  for (let i = 0; i < s.length; i++) c[s[i]]++;
  return c;
}

/**
 * A failed delivery as the retry loop sees it: retriable unless the producer instance itself is broken
 * (a fatal librdkafka error), in which case only a new process (a new producer) can help.
 */
function deadLetterError(err: unknown, remaining: number): RuntimeError {
  const fatal = err instanceof KafkaError && err.fatal;
  return new RuntimeError("RUNTIME_DLQ_FAILED", `dead-letter delivery failed for ${remaining} record(s): ${err instanceof Error ? err.message : String(err)}`, {
    retriable: !fatal,
    cause: err,
    context: { code: err instanceof TopofleetError ? err.code : undefined, remaining },
  });
}

/** Runs every stage on the batch and dead-letters its rejections; `signal` aborts retries when the batch is abandoned. */
export async function runPipeline(batch: Batch, deps: PipelineDeps, signal: AbortSignal): Promise<void> {
  const { metrics, logger } = deps;
  let retryingNow = false;
  const hooks = (step: string) => ({
    signal,
    backoff: deps.backoff,
    onRetry(err: unknown, attempt: number, delayMs: number) {
      const code = err instanceof TopofleetError ? err.code : "UNKNOWN";
      metrics.stageRetries.inc({ stage: step, code });
      logger.warn(
        { stage: step, code, attempt: attempt + 1, delayMs: Math.round(delayMs), batch: batch.id, err: errorJson(err) },
        "retriable failure; retrying the batch after backoff",
      );
      if (!retryingNow) {
        retryingNow = true;
        deps.onRetrying(batch, true);
      }
    },
    onRecovered(attempts: number) {
      logger.info({ stage: step, attempts, batch: batch.id }, "recovered after retries");
      if (retryingNow) {
        retryingNow = false;
        deps.onRetrying(batch, false);
      }
    },
  });

  const trace = deps.tracing?.startBatch(batch, deps.fetchStartedAt?.(batch)) ?? null;
  const runStages = async (from: number) => {
    for (let k = from; k < deps.stages.length; k++) {
      const stage = deps.stages[k];
      const before = statusCounts(batch);
      if (before[EventStatus.Live] === 0) break;
      metrics.eventsIn.inc({ stage: stage.name }, before[EventStatus.Live]);
      const t0 = performance.now();
      const span = trace?.stage(stage.name, before[EventStatus.Live]) ?? null;
      try {
        await retrying(`stage ${stage.name}`, () => stage.process(batch), hooks(stage.name));
      } catch (err) {
        span?.fail(err);
        throw err;
      }
      deps.faults?.afterStage(stage.kind);
      metrics.batchSeconds.observe({ stage: stage.name }, (performance.now() - t0) / 1000);
      const after = statusCounts(batch);
      span?.end(after);
      const out = (outcome: string, n: number) => n > 0 && metrics.eventsOut.inc({ stage: stage.name, outcome }, n);
      out("passed", after[EventStatus.Live]);
      out("persisted", after[EventStatus.Persisted] - before[EventStatus.Persisted]);
      out("duplicate", after[EventStatus.Duplicate] - before[EventStatus.Duplicate]);
      out("dead_lettered", after[EventStatus.DeadLettered] - before[EventStatus.DeadLettered]);
      out("held", after[EventStatus.Held] - before[EventStatus.Held]);
      out("filtered", after[EventStatus.Filtered] - before[EventStatus.Filtered]);
    }
  };

  try {
    await runStages(0);
    // Held events (limit stage, `delay`): the rest of the batch went on above; each release runs the stages
    // after the holder for the events set Live again. The batch (and so its offsets) completes only after.
    for (let held = batch.count(EventStatus.Held); held > 0; held = batch.count(EventStatus.Held)) {
      const at = deps.stages.findIndex((s) => isHoldingStage(s));
      if (at < 0) throw new RuntimeError("RUNTIME_STAGE_FAILED", `${held} event(s) Held but no stage of the pipeline holds events`, { retriable: false, context: { batch: batch.id } });
      deps.onHeld?.(batch, held);
      try {
        await (deps.stages[at] as HoldingStage).released(batch, signal);
      } finally {
        deps.onHeld?.(batch, 0);
      }
      await runStages(at + 1);
    }

    const live = batch.count(EventStatus.Live);
    if (live > 0) {
      // Committing now would drop these events silently: the last stage broke the Stage contract.
      const last = deps.stages.at(-1)?.name ?? "(none)";
      throw new RuntimeError("RUNTIME_STAGE_FAILED", `${live} event(s) still Live after the last stage "${last}": every event must end persisted, duplicate or dead-lettered`, {
        retriable: false,
        context: { batch: batch.id, live, lastStage: last },
      });
    }

    let pending = deadLetterRecords(batch, deps.deadLetterTopic, deps.workerId, deps.deadLetterMaxBytes);
    if (pending.length > 0) {
      const span = trace?.stage(DEAD_LETTER_STEP, pending.length) ?? null;
      let stuck = false;
      await retrying(
        DEAD_LETTER_STEP,
        async () => {
          try {
            await deps.produce(pending);
          } catch (err) {
            if (!(err instanceof KafkaError && err.failures?.length)) throw deadLetterError(err, pending.length);
            // Resend only what failed: the acknowledged ones are durable already. A record the broker (or a
            // topic's max.message.bytes) refuses as too large is resent as a reference (fitDeadLetter).
            const next = [];
            let tooLarge: string | null = null;
            for (const f of err.failures) {
              const r = pending[f.index];
              if (f.error.code !== MSG_SIZE_TOO_LARGE) next.push(r);
              else if (!r.headers?.some(([name]) => name === DLQ_HEADERS.originalSha256)) next.push(fitDeadLetter(r, deps.deadLetterMaxBytes, true));
              else {
                next.push(r);
                tooLarge = `dead letter for ${String(r.headers.find(([n]) => n === DLQ_HEADERS.topic)?.[1])}/${String(r.headers.find(([n]) => n === DLQ_HEADERS.partition)?.[1])}@${String(r.headers.find(([n]) => n === DLQ_HEADERS.offset)?.[1])} is refused as too large even as a reference (${f.error.message}); check the dead-letter topic's max.message.bytes`;
              }
            }
            pending = next;
            if (tooLarge !== null) {
              // Not retried silently: logged with every retry, partitions held, readiness false until it goes through.
              stuck = true;
              deps.onDeadLetterStuck?.(batch, tooLarge);
              logger.error({ batch: batch.id }, tooLarge);
            }
            throw deadLetterError(err, pending.length);
          }
        },
        hooks(DEAD_LETTER_STEP),
      );
      if (stuck) deps.onDeadLetterStuck?.(batch, null);
      for (const r of batch.rejections.values()) metrics.deadLettered.inc({ stage: r.stage, code: r.code });
      span?.end(statusCounts(batch));
    }
    trace?.end(statusCounts(batch), null);
  } catch (err) {
    trace?.end(statusCounts(batch), err);
    throw err;
  } finally {
    if (retryingNow) deps.onRetrying(batch, false);
  }
}
