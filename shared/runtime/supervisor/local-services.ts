/**
 * Services the supervisor hosts in its own process so a topology runs with nothing installed: librdkafka's
 * mock cluster for `source.mock` (with the built-in CloudEvents generator feeding it), and embedded
 * PostgreSQL (PGlite behind a socket server) for `persist.url: embedded`. Workers reach both over
 * localhost through the overrides in their WorkerLaunch, exactly as they would reach real services.
 */
import type { Logger } from "pino";
import { join } from "node:path";
import type { BacklogPacer } from "../../loadgen/index.ts";
import { specOf } from "../../stages/registry.ts";
import type { ResolvedTopology, StageConfig } from "../../topology/types.ts";

/** Handles to the hosted services. */
export interface LocalServices {
  /** bootstrap.servers of the mock cluster; null for a real Kafka source. */
  brokersOverride: string | null;
  /** URL of embedded PostgreSQL; null when no persist stage uses `url: embedded`. */
  databaseUrlOverride: string | null;
  /**
   * Starts the mock source's generator producing into the first source topic; null when there is none.
   * It produces only while what it produced and the fleet has not committed (`committed()`, cumulative
   * source events) stays below what the mock's partitions keep, so the mock never deletes unread events.
   * The promise settles when the generator stops (its `events` budget, or `signal`).
   */
  startGenerator(signal: AbortSignal, committed: () => number): Promise<unknown> | null;
  /** The running generator's acknowledged count and whether the pipeline holds it back; null when none runs. */
  generatorStatus(): GeneratorStatus | null;
  /** Stops what was started, in reverse order. */
  stop(): Promise<void>;
}

/** What the live line shows about the demo's generator. */
export interface GeneratorStatus {
  /** Messages the mock acknowledged so far. */
  produced: number;
  /** True while the generator waits for the pipeline to commit (the backlog bound is reached). */
  held: boolean;
  /** The backlog bound: most events produced and not yet committed. */
  backlogLimit: number;
}

/** Stages that need the embedded PostgreSQL this supervisor hosts. */
const embeddedPostgresStages = (t: ResolvedTopology): StageConfig[] => t.stages.filter((s) => specOf(s).localServices?.(s).includes("embedded-postgres") ?? false);

/** Starts the mock cluster and embedded PostgreSQL the topology asks for, and migrates embedded tables. */
export async function startLocalServices(t: ResolvedTopology, opts: { dataDir: string; logger: Logger }): Promise<LocalServices> {
  const { logger } = opts;
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of [...stops].reverse()) {
      try {
        await stop();
      } catch (err) {
        // Shutdown keeps going: one service failing to stop must not leave the others running.
        logger.error({ err: (err as Error).message }, "a hosted service failed to stop");
      }
    }
  };
  try {
    let brokersOverride: string | null = null;
    let startGenerator: LocalServices["startGenerator"] = () => null;
    let generatorStatus: LocalServices["generatorStatus"] = () => null;
    if (t.source.kind === "mock") {
      const source = t.source;
      const { MockCluster, Producer } = await import("../../kafka/index.ts");
      const names = [...source.topics.filter((n) => !n.startsWith("^")), t.deadLetter.topic];
      const cluster = await MockCluster.start({ brokers: source.brokers, topics: names.map((name) => ({ name, partitions: source.partitions })) });
      stops.push(() => cluster.stop());
      brokersOverride = cluster.bootstraps;
      logger.info({ brokers: source.brokers, topics: names, partitions: source.partitions }, "mock cluster started");
      const generator = source.generator;
      if (generator) {
        const { runGenerator, BacklogPacer, mockBacklogLimit } = await import("../../loadgen/index.ts");
        startGenerator = (signal, committed) => {
          const producer = new Producer({ config: { "bootstrap.servers": cluster.bootstraps, "linger.ms": "5" } });
          const pacer: BacklogPacer = new BacklogPacer(mockBacklogLimit(generator, source.partitions), committed);
          let produced = 0;
          generatorStatus = () => ({ produced, held: pacer.held, backlogLimit: pacer.limit });
          logger.info({ topic: source.topics[0], rate: generator.rate, events: generator.events, backlogLimit: pacer.limit }, "generator started");
          const onProgress = (p: { messages: number }) => void (produced = p.messages);
          const run = runGenerator({ producer, topic: source.topics[0], config: generator, signal, onProgress, pacer });
          // The producer must outlive every delivery the generator awaits, and close before the cluster stops.
          const closed = run.finally(() => producer.close());
          stops.push(() => closed.then(() => undefined, () => undefined));
          return run;
        };
      }
    }

    let databaseUrlOverride: string | null = null;
    const embedded = embeddedPostgresStages(t);
    if (embedded.length) {
      const { startEmbeddedPostgres } = await import("../../embedded/index.ts");
      const pg = await startEmbeddedPostgres({ dataDir: join(opts.dataDir, "postgres") });
      stops.push(() => pg.stop());
      databaseUrlOverride = pg.url;
      logger.info({ dataDir: join(opts.dataDir, "postgres") }, "embedded PostgreSQL started");
      // Each stage prepares its part of the embedded database (persist: its table) before any worker starts.
      for (const cfg of embedded) {
        const spec = specOf(cfg);
        await spec.migrate?.(spec.applyLaunch?.(cfg, { embeddedDatabaseUrl: pg.url }) ?? cfg, { logger });
      }
    }
    return { brokersOverride, databaseUrlOverride, startGenerator, generatorStatus: () => generatorStatus(), stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
