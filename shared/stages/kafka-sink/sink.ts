/**
 * The Kafka sink: produces each batch's events to a topic with an idempotent producer (acks=all) and reports
 * an event durable only when the broker acknowledged its record, so the engine commits the source offsets
 * only after every record of the batch is on the in-sync replicas.
 *
 * Exactly once per durable commit, at least once across a failure. The producer's idempotence removes the
 * duplicates its own internal retries would write, but not those of a record produced again by a later call:
 * - a worker crash (or revocation) after the acks and before the source offsets commit replays the batch,
 *   and its events are produced again;
 * - a batch that failed as retriable (a record's delivery timed out, `deliveryTimeout`) is produced again for
 *   the records not acknowledged, and a record whose write did reach the broker but whose ack was lost
 *   (the timeout) is then written twice.
 * Each copy carries the same deterministic headers (records.ts: source topic, partition, offset, ce_id) and
 * the same timestamp, so a consumer drops re-deliveries by (source topic, partition, offset). Kafka
 * transactions (offsets committed inside the producer's transaction) would close this window; the binding
 * does not expose them yet.
 *
 * One record the broker refuses (over the topic's max.message.bytes) fails every record of the produce
 * batch it travelled in; the sink sends each refused record again alone before it dead-letters anything
 * (settleFailures), so only the record at fault is dead-lettered.
 */
import type { Logger } from "pino";
import { KafkaSinkError } from "./errors.ts";
import { KafkaError } from "../../kafka/errors.ts";
import { Producer } from "../../kafka/producer/producer.ts";
import type { KafkaConfig, ProduceRecord } from "../../kafka/types.ts";
import type { Counter, Histogram } from "../../telemetry/metrics.ts";
import { M } from "../../telemetry/names.ts";
import type { Batch } from "../batch.ts";
import { SinkStage, type Sink, type SinkSettlement } from "../sink.ts";
import type { StageContext, StageHealth } from "../stage.ts";
import { OWNED_PROPERTIES, type KafkaSinkStageConfig } from "./config.ts";
import { batchFailure, recordRefusal } from "./failures.ts";
import { RecordBuilder } from "./records.ts";

/** Everything that exists only between start() and close(). */
interface Running {
  producer: Producer;
  config: KafkaConfig;
  /** Sends refused records again one by one (settleFailures); made on first use. */
  isolator: Producer | null;
  logger: Logger;
  records: Counter;
  seconds: Histogram;
}

const CLOSE_TIMEOUT_MS = 10_000;

/** The producer's properties: the user's, then the sink's own settings, then what exactness needs (wins). */
export function producerConfig(cfg: KafkaSinkStageConfig, ctx: Pick<StageContext, "topology" | "workerId">): KafkaConfig {
  return {
    "client.id": `topofleet-${ctx.topology.name}-${ctx.workerId}-${cfg.name}`,
    ...cfg.properties,
    "bootstrap.servers": cfg.brokers,
    "message.max.bytes": String(cfg.maxRecordBytes),
    "message.timeout.ms": String(cfg.deliveryTimeoutMs),
    ...OWNED_PROPERTIES,
  };
}

/** Produces enriched events to a Kafka topic (see the module comment for the delivery guarantee). */
export class KafkaSink implements Sink {
  readonly kind = "kafkaSink";
  readonly name: string;
  private readonly builder: RecordBuilder;
  private run: Running | null = null;
  /** Set by the producer's error callback when it became unusable; fails the next write as fatal. */
  private broken: Error | null = null;
  /** The isolation sends in progress, chained (see sendAlone). */
  private isolating: Promise<unknown> = Promise.resolve();

  constructor(readonly cfg: KafkaSinkStageConfig) {
    this.name = cfg.name;
    this.builder = new RecordBuilder(cfg);
  }

  /** Creates the producer (librdkafka connects in the background; an outage surfaces as a retriable write). */
  async start(ctx: StageContext): Promise<void> {
    const logger = ctx.logger.child({ stage: this.name });
    const config = producerConfig(this.cfg, ctx);
    let producer: Producer;
    try {
      producer = new Producer({
        config,
        onError: (err) => {
          if (err instanceof KafkaError && err.fatal) this.broken = err;
          logger.warn({ err: err.message }, "kafka sink producer error");
        },
      });
    } catch (err) {
      if (err instanceof KafkaSinkError) throw err;
      throw new KafkaSinkError("KAFKA_SINK_CONFIG", `kafka sink "${this.name}": the producer refused its configuration: ${err instanceof Error ? err.message : String(err)}`, { retriable: false, cause: err });
    }
    this.run = {
      producer,
      config,
      isolator: null,
      logger,
      records: ctx.metrics.counter(M.kafkaSinkRecords),
      seconds: ctx.metrics.histogram(M.kafkaSinkSeconds),
    };
    logger.info({ topic: this.cfg.topic, mode: this.cfg.mode, key: this.cfg.key }, "kafka sink started");
  }

  /** Produces the events at `indexes`; settles each on its own ack or refusal, throws for the rest. */
  async write(batch: Batch, indexes: readonly number[], settle: SinkSettlement): Promise<void> {
    const run = this.running();
    if (indexes.length === 0) return;
    if (!batch.events) throw new KafkaSinkError("KAFKA_SINK_FATAL", `batch ${batch.id} reached ${this.name} without enriched events`, { retriable: false });
    if (this.broken) throw batchFailure(this.name, this.broken, indexes.length);
    const records = indexes.map((i) => this.builder.record(batch, i));
    const started = performance.now();
    try {
      await run.producer.sendBatch(records);
      for (const i of indexes) settle.durable(i);
      run.records.inc({ stage: this.name, outcome: "acked" }, indexes.length);
    } catch (err) {
      if (!(err instanceof KafkaError && err.failures?.length)) throw batchFailure(this.name, err, indexes.length);
      await this.settleFailures(run, indexes, records, err.failures, settle);
    } finally {
      run.seconds.observe({ stage: this.name }, (performance.now() - started) / 1000);
    }
  }

  /**
   * After a partial delivery: acked records are durable; any failure that is not a refusal fails the batch.
   * A refusal is not trusted as it comes: the broker refuses a whole produce batch for one record over the
   * topic's max.message.bytes, and that batch may hold records of other events (even of other batches in
   * flight). So each refused record is sent again alone, on a producer that sends only such records one at a
   * time: refused again, it is rejected; acked, it is durable.
   */
  private async settleFailures(
    run: Running,
    indexes: readonly number[],
    records: readonly ProduceRecord[],
    failures: NonNullable<KafkaError["failures"]>,
    settle: SinkSettlement,
  ): Promise<void> {
    const failed = new Map(failures.map((f) => [f.index, f.error]));
    const refused: number[] = [];
    let batchError: KafkaError | null = null;
    let unsettled = 0;
    let acked = 0;
    let rejected = 0;
    for (let k = 0; k < indexes.length; k++) {
      const error = failed.get(k);
      if (!error) {
        settle.durable(indexes[k]);
        acked++;
      } else if (recordRefusal(error)) refused.push(k);
      else {
        // Not settled: the retry of the batch produces it again.
        batchError ??= error;
        unsettled++;
      }
    }
    for (const k of refused) {
      const error = await this.sendAlone(run, records[k]);
      const refusal = error ? recordRefusal(error) : null;
      if (error === null) {
        settle.durable(indexes[k]);
        acked++;
      } else if (refusal) {
        settle.reject(indexes[k], refusal);
        rejected++;
      } else {
        batchError ??= error;
        unsettled++;
      }
    }
    if (acked) run.records.inc({ stage: this.name, outcome: "acked" }, acked);
    if (rejected) run.records.inc({ stage: this.name, outcome: "rejected" }, rejected);
    if (batchError) throw batchFailure(this.name, batchError, unsettled);
  }

  /** Produces one record in a produce request of its own; null when acked, else why not. */
  private async sendAlone(run: Running, record: ProduceRecord): Promise<KafkaError | null> {
    // One at a time: records sent concurrently could share a produce batch again.
    const turn = this.isolating.then(async () => {
      run.isolator ??= new Producer({ config: { ...run.config, "linger.ms": "0" }, onError: (err) => run.logger.warn({ err: err.message }, "kafka sink isolation producer error") });
      try {
        await run.isolator.send(record);
        return null;
      } catch (err) {
        if (err instanceof KafkaError) return err.failures?.[0]?.error ?? err;
        throw err;
      }
    });
    this.isolating = turn.catch(() => undefined);
    return turn;
  }

  /** Ok while the producer is usable; the detail counts records awaiting acknowledgement. */
  async health(): Promise<StageHealth> {
    const run = this.run;
    if (!run) return { ok: false, detail: "not started" };
    if (this.broken) return { ok: false, detail: `producer unusable: ${this.broken.message}` };
    return { ok: true, detail: `${run.producer.inFlight} record(s) awaiting acknowledgement` };
  }

  /** Waits for records in flight (bounded), then closes the producer. */
  async close(): Promise<void> {
    const run = this.run;
    if (!run) return;
    this.run = null;
    await this.isolating;
    await Promise.all([run.producer.close(CLOSE_TIMEOUT_MS), run.isolator?.close(CLOSE_TIMEOUT_MS)]);
  }

  private running(): Running {
    if (!this.run) throw new KafkaSinkError("KAFKA_SINK_FATAL", `${this.name} used before start() or after close()`, { retriable: false });
    return this.run;
  }
}

/** The Kafka sink as a pipeline stage. */
export class KafkaSinkStage extends SinkStage<KafkaSink> {
  constructor(readonly cfg: KafkaSinkStageConfig) {
    super(new KafkaSink(cfg));
  }
}
