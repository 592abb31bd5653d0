/**
 * The persist sink: writes each batch's live events to PostgreSQL and settles every one of them as durable,
 * duplicate or (for rows the database refuses) rejected, through the sink seam (shared/stages/sink.ts). The
 * promise of `write` resolves only after COMMIT (default synchronous_commit), which is what lets the engine
 * commit Kafka offsets. PersistStage is this sink run as a pipeline stage, plus the IdentityStore the dedupe
 * stage asks.
 *
 * Retries are safe: `write` only sees events not yet settled, rows a failed attempt did commit come back as
 * conflicts carrying this event's own Kafka position and count as durable (see writer.ts), and bisected
 * halves that committed were settled before a later half failed.
 *
 * Contested events: those the dedupe stage asked about (`existing`, a Bloom "maybe seen") and found not
 * stored. They are mostly copies of events that another in-flight batch of this worker is writing right now
 * (a producer retry close behind the original), and writing them in the batch's COPY made that COPY fail
 * with a unique violation as soon as the other batch committed first: the whole chunk rolled back and was
 * redone through the staging table, about twice PostgreSQL's work. So a batch writes its other events with
 * the direct COPY, and its contested events last, after the writes already in flight have finished, with
 * ON CONFLICT DO NOTHING (which settles them as Persisted or Duplicate like any conflict).
 */
import type { Logger } from "pino";
import type { Sql } from "postgres";
import { PersistError, TopofleetError } from "../../errors/index.ts";
import type { Counter, Histogram } from "../../telemetry/metrics.ts";
import { M } from "../../telemetry/names.ts";
import type { PersistStageConfig } from "./config.ts";
import type { EmbeddedPostgres } from "../../embedded/index.ts";
import type { Batch } from "../batch.ts";
import { SinkStage, type Sink, type SinkSettlement } from "../sink.ts";
import type { IdentityStore, StageContext, StageHealth } from "../stage.ts";
import { resolveColumns, type ResolvedColumns } from "./columns.ts";
import { detectBackend, openPool, resolveDatabase } from "./connect.ts";
import { writeIsolating } from "./isolate.ts";
import { closePool } from "./pg-driver.ts";
import { prepareTable } from "./migrate.ts";
import { dayOf, type MaintenanceResult, type PartitionKeeper } from "./partitions.ts";
import { target as makeTarget, type Target } from "./sql-text.ts";
import { classify, isMissingPartition, rowRejection, toPersistError } from "./sqlstate.ts";
import { buildWritePlan, type WritePlan } from "./write-plan.ts";
import { ChunkWriter, type StoredIndexes, type WriteMethod } from "./writer.ts";

const HEALTH_TIMEOUT_MS = 2000;

/** Everything that exists only between start() and close(). */
interface Running {
  sql: Sql;
  embedded: EmbeddedPostgres | null;
  plan: WritePlan;
  writer: ChunkWriter;
  partitions: PartitionKeeper | null;
  logger: Logger;
  rows: Counter;
  seconds: Histogram;
  timer: ReturnType<typeof setInterval> | null;
}

/** The batch-persist sink to PostgreSQL (or embedded PGlite); also the pipeline's IdentityStore. */
export class PersistSink implements Sink, IdentityStore {
  readonly kind = "persist";
  readonly name: string;
  private readonly target: Target;
  private readonly columns: ResolvedColumns;
  private run: Running | null = null;
  private maintenanceInFlight: Promise<MaintenanceResult> | null = null;
  /** Per batch: events `existing` found not stored (see "Contested events" above). */
  private readonly contested = new WeakMap<Batch, Set<number>>();
  /** Direct writes in flight; contested events wait for those that started before them. */
  private readonly writing = new Set<Promise<unknown>>();

  /** Validates names and mapping now (ConfigError), so a bad topology fails before any connection. */
  constructor(readonly cfg: PersistStageConfig) {
    this.name = cfg.name;
    this.target = makeTarget(cfg.schema, cfg.table);
    this.columns = resolveColumns(cfg.columns);
  }

  /** The write method in use after start (PGlite forces "unnest"). */
  get method(): WriteMethod | null {
    return this.run?.writer.method ?? null;
  }

  /** Connects, migrates when the schema is managed, and starts the partition maintenance loop. */
  async start(ctx: StageContext): Promise<void> {
    const logger = ctx.logger.child({ stage: this.name });
    const db = await resolveDatabase(this.cfg.url, ctx.dataDir, logger);
    const sql = openPool(db.url, this.cfg.connections, this.name, logger);
    try {
      const backend = await detectBackend(sql);
      let method: WriteMethod = this.cfg.method;
      if (backend === "pglite" && method === "copy") {
        logger.info("embedded PostgreSQL (PGlite) cannot take COPY FROM STDIN over the wire; persisting with unnest");
        method = "unnest";
      }
      const prepared = await prepareTable(sql, this.cfg, this.target, this.columns);
      const plan = buildWritePlan(this.target, this.columns, prepared.info);
      if (!plan.matchesOwnRows) {
        logger.warn("column mapping lacks kafka_partition/kafka_offset: after a lost COMMIT acknowledgement, rows already written count as duplicates");
      }
      this.run = {
        sql,
        embedded: db.embedded,
        plan,
        writer: new ChunkWriter(sql, plan, method),
        partitions: prepared.partitions,
        logger,
        rows: ctx.metrics.counter(M.persistRows),
        seconds: ctx.metrics.histogram(M.persistSeconds),
        timer: null,
      };
      if (prepared.partitions) this.scheduleMaintenance();
      logger.info({ table: this.target.sql, backend, method, managed: this.cfg.manageSchema, connections: this.cfg.connections }, "persist stage started");
    } catch (err) {
      await closePool(sql);
      await db.embedded?.stop();
      throw err instanceof TopofleetError ? err : toPersistError(err, "start");
    }
  }

  /** Writes the events at `live`; see the module comment for the exactness argument. */
  async write(batch: Batch, live: readonly number[], settle: SinkSettlement): Promise<void> {
    const run = this.running();
    if (live.length === 0) return;
    const ev = batch.events;
    if (!ev) throw new PersistError("PERSIST_FATAL", `batch ${batch.id} reached ${this.name} without enriched events`, { retriable: false });
    const started = performance.now();
    try {
      if (run.partitions) await run.partitions.ensure(distinctDays(ev.time, live));
      const { plain, late } = splitContested(live, this.contested.get(batch));
      const ops = (tolerant: boolean) => ({
        write: (chunk: readonly number[]) => this.writeChunk(run, batch, chunk, tolerant, settle),
        // A missing partition is our stale cache (another worker dropped it), not a bad row.
        isRowError: (err: unknown) => classify(err) === "row" && !(run.partitions && isMissingPartition(err)),
        rejectOne: (i: number, err: unknown) => {
          settle.reject(i, rowRejection(this.name, err));
          run.rows.inc({ stage: this.name, outcome: "rejected" });
        },
      });
      if (plain.length) {
        const writing = writeIsolating(plain, ops(false));
        this.writing.add(writing);
        try {
          await writing;
        } finally {
          this.writing.delete(writing);
        }
      }
      if (late.length) {
        // Let the batches already writing (the likely holders of these events) commit first, so these rows
        // meet committed rows and are settled by ON CONFLICT instead of racing an uncommitted COPY.
        await Promise.allSettled([...this.writing]);
        await writeIsolating(late, ops(true));
      }
    } catch (err) {
      if (run.partitions && isMissingPartition(err)) {
        run.partitions.invalidate();
        throw toPersistError(err, "write", "transient");
      }
      throw toPersistError(err, "write");
    } finally {
      run.seconds.observe({ stage: this.name }, (performance.now() - started) / 1000);
    }
  }

  /**
   * Which of `indexes` already have their (source, id, time) in the table: one round trip. A row written
   * from the very same Kafka record (a re-delivery after a worker crash) is not reported: that event is not
   * a duplicate, and its write below settles it as Persisted (the conflict carries its own position).
   */
  async existing(batch: Batch, indexes: readonly number[]): Promise<Set<number>> {
    const run = this.running();
    if (indexes.length === 0) return new Set();
    const ev = batch.events;
    if (!ev) throw new PersistError("PERSIST_FATAL", `identity lookup for batch ${batch.id} without enriched events`, { retriable: false });
    const params = [indexes.map((i) => ev.source[i]), indexes.map((i) => ev.id[i]), indexes.map((i) => ev.timeText[i])];
    const own = run.plan.matchesOwnRows && this.cfg.redelivery !== "duplicate";
    if (own) params.push(indexes.map((i) => String(batch.records.partitions[i])), indexes.map((i) => String(batch.records.offsets[i])));
    try {
      const rows = await run.sql.unsafe<Array<{ ord: number; own: boolean }>>(own ? run.plan.selectExistingOwn : run.plan.selectExisting, params);
      const found = new Set(rows.filter((r) => !r.own || !own).map((r) => indexes[r.ord - 1]));
      let contested = this.contested.get(batch);
      for (const i of indexes) {
        if (found.has(i)) continue;
        if (!contested) this.contested.set(batch, (contested = new Set()));
        contested.add(i);
      }
      return found;
    } catch (err) {
      throw toPersistError(err, "identity lookup");
    }
  }

  /** `select 1` within 2 s. */
  async health(): Promise<StageHealth> {
    const run = this.run;
    if (!run) return { ok: false, detail: "not started" };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), HEALTH_TIMEOUT_MS)));
    try {
      const answer = await Promise.race([run.sql.unsafe("SELECT 1"), timeout]);
      return answer === "timeout" ? { ok: false, detail: `no answer from PostgreSQL within ${HEALTH_TIMEOUT_MS} ms` } : { ok: true };
    } catch (err) {
      return { ok: false, detail: toPersistError(err, "health check").message };
    } finally {
      clearTimeout(timer);
    }
  }

  /** One maintenance pass now (also run every maintenanceIntervalMs): partitions ahead, retention drops. */
  async maintain(now = Date.now()): Promise<MaintenanceResult> {
    const run = this.running();
    if (!run.partitions) return { created: [], dropped: [] };
    // Passes never overlap: a slow DROP waiting for in-flight inserts must not pile up behind the timer.
    while (this.maintenanceInFlight) await this.maintenanceInFlight.catch(() => undefined);
    const pass = run.partitions.maintain(now, this.cfg.partitionsAheadDays, this.cfg.retentionDays);
    this.maintenanceInFlight = pass;
    try {
      const result = await pass;
      if (result.created.length || result.dropped.length) run.logger.info(result, "partition maintenance");
      return result;
    } catch (err) {
      throw toPersistError(err, "partition maintenance");
    } finally {
      this.maintenanceInFlight = null;
    }
  }

  /** Stops maintenance, closes the pool and the embedded database (if this stage started it). */
  async close(): Promise<void> {
    const run = this.run;
    if (!run) return;
    this.run = null;
    if (run.timer) clearInterval(run.timer);
    await this.maintenanceInFlight?.catch(() => undefined);
    await closePool(run.sql);
    await run.embedded?.stop();
  }

  private scheduleMaintenance(): void {
    const run = this.run!;
    run.timer = setInterval(() => {
      this.maintain().catch((err: unknown) => {
        // Not fatal for batches (they create the partitions they need); logged loudly and tried again.
        run.logger.error({ err }, "partition maintenance failed; retrying at the next interval");
      });
    }, this.cfg.maintenanceIntervalMs);
    run.timer.unref?.();
  }

  private async writeChunk(run: Running, batch: Batch, chunk: readonly number[], tolerant: boolean, settle: SinkSettlement): Promise<void> {
    const stored: StoredIndexes = tolerant ? await run.writer.writeTolerant(batch, chunk) : await run.writer.write(batch, chunk);
    // Settled only now, after COMMIT: a failure above leaves these events Live for the retry.
    let inserted = 0;
    if (stored === "all") {
      for (const i of chunk) settle.durable(i);
      inserted = chunk.length;
    } else {
      for (const i of chunk) {
        if (stored.has(i)) {
          settle.durable(i);
          inserted++;
        } else settle.duplicate(i);
      }
    }
    if (inserted) run.rows.inc({ stage: this.name, outcome: "inserted" }, inserted);
    if (chunk.length > inserted) run.rows.inc({ stage: this.name, outcome: "conflict" }, chunk.length - inserted);
  }

  private running(): Running {
    if (!this.run) throw new PersistError("PERSIST_FATAL", `${this.name} used before start() or after close()`, { retriable: false });
    return this.run;
  }
}

/** The persist sink as a pipeline stage; forwards the IdentityStore and maintenance calls to the sink. */
export class PersistStage extends SinkStage<PersistSink> implements IdentityStore {
  /** Validates names and mapping now (ConfigError), so a bad topology fails before any connection. */
  constructor(readonly cfg: PersistStageConfig) {
    super(new PersistSink(cfg));
  }

  /** The write method in use after start (PGlite forces "unnest"). */
  get method(): WriteMethod | null {
    return this.sink.method;
  }

  /** See PersistSink.existing. */
  existing(batch: Batch, indexes: readonly number[]): Promise<Set<number>> {
    return this.sink.existing(batch, indexes);
  }

  /** See PersistSink.maintain. */
  maintain(now?: number): Promise<MaintenanceResult> {
    return this.sink.maintain(now);
  }
}

/** `live` without and with the contested events (one pass; without contested events `live` itself). */
function splitContested(live: readonly number[], contested: ReadonlySet<number> | undefined): { plain: readonly number[]; late: number[] } {
  if (!contested) return { plain: live, late: [] };
  const plain: number[] = [];
  const late: number[] = [];
  for (const i of live) (contested.has(i) ? late : plain).push(i);
  return { plain, late };
}

/** The distinct UTC days of the events at `indexes` (usually one or two: a short loop beats a Set). */
function distinctDays(time: Float64Array, indexes: readonly number[]): number[] {
  const days: number[] = [];
  let last = NaN;
  for (const i of indexes) {
    const d = dayOf(time[i]);
    if (d === last) continue;
    last = d;
    if (!days.includes(d)) days.push(d);
  }
  return days;
}
