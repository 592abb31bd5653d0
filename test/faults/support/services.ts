/**
 * The services a fault suite file owns for its whole run: a redis-server and a PostgreSQL cluster on free
 * ports (dev/faults, never the shared 6379/5432) and a 3-broker librdkafka mock cluster in the test process,
 * so the test can stop, restart and take down each of them.
 */
import { afterAll, beforeAll } from "bun:test";
import postgres, { type Sql } from "postgres";
import { INJECTOR_APP, PostgresInstance } from "../../../dev/faults/postgres-instance.ts";
import { RedisInstance } from "../../../dev/faults/redis-instance.ts";
import { MockCluster, type KafkaConfig } from "../../../shared/kafka/index.ts";

/** Brokers of the suite's mock cluster: three, so topics can be replicated and one broker can go down. */
export const MOCK_BROKERS = 3;

/** The services one suite file owns for its whole run. */
export class FaultServices {
  private constructor(
    readonly redis: RedisInstance,
    readonly pg: PostgresInstance,
    readonly mock: MockCluster,
    readonly sql: Sql,
  ) {}

  /** Starts redis-server, a PostgreSQL cluster and the mock cluster (never the shared 5432/6379). */
  static async start(): Promise<FaultServices> {
    const started: Array<{ dispose(): Promise<void> }> = [];
    try {
      const redis = await RedisInstance.start();
      started.push(redis);
      const pg = await PostgresInstance.start();
      started.push(pg);
      const mock = await MockCluster.start({ brokers: MOCK_BROKERS });
      started.push({ dispose: () => mock.stop() });
      const sql = postgres(pg.url, { max: 2, onnotice: () => {}, connection: { application_name: INJECTOR_APP } });
      return new FaultServices(redis, pg, mock, sql);
    } catch (err) {
      for (const s of started.reverse()) await s.dispose().catch(() => undefined);
      throw err;
    }
  }

  /** Kafka client config for the mock cluster. */
  get kafka(): KafkaConfig {
    return { "bootstrap.servers": this.mock.bootstraps };
  }

  /** Environment the fleet reads its connection settings from (the topology file holds only `${VAR}`s). */
  fleetEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
    return {
      ...process.env,
      TF_FAULT_BROKERS: this.mock.bootstraps,
      TF_FAULT_REDIS_URL: this.redis.url,
      TF_FAULT_DATABASE_URL: this.pg.url,
      TOPOFLEET_LOG_LEVEL: "info",
      ...extra,
    };
  }

  /** Stops everything; a stuck stop never keeps the others running. */
  async stop(): Promise<void> {
    await this.sql.end({ timeout: 5 }).catch(() => undefined);
    await this.mock.stop().catch(() => undefined);
    await this.pg.dispose().catch(() => undefined);
    await this.redis.dispose().catch(() => undefined);
  }
}

/**
 * Registers the suite file's services: started once in beforeAll, stopped in afterAll. Returns an accessor
 * for the tests (the services exist only once beforeAll ran).
 */
export function faultSuite(): () => FaultServices {
  let services: FaultServices | null = null;
  beforeAll(async () => {
    services = await FaultServices.start();
  }, 120_000);
  afterAll(async () => {
    await services?.stop();
  }, 120_000);
  return () => {
    if (!services) throw new Error("fault services are not started (beforeAll failed?)");
    return services;
  };
}
