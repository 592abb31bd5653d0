/**
 * The services a fault suite file owns for its whole run: a redis-server and a PostgreSQL cluster on free
 * ports (dev/faults, never the shared 6379/5432) and a 3-broker librdkafka mock cluster in the test process,
 * so the test can stop, restart and take down each of them. A suite may run on the real broker instead
 * (`faultSuite("real")`, KAFKA_BROKERS; the default when KAFKA_BROKERS is set): then `mock` is unavailable, and
 * a fault that stops a broker starts one of its own (dev/faults/kafka-broker.ts) as the scenario's Kafka.
 */
import { suiteResource } from "../../../dev/support/suite-resource.ts";
import postgres, { type Sql } from "postgres";
import { INJECTOR_APP, PostgresInstance } from "../../../dev/faults/postgres-instance.ts";
import { RedisInstance } from "../../../dev/faults/redis-instance.ts";
import { Admin, MockCluster, type KafkaConfig } from "../../../shared/kafka/index.ts";
import { REAL_BROKERS } from "../../../dev/support/kafka.ts";

/** Brokers of the suite's mock cluster: three, so topics can be replicated and one broker can go down. */
export const MOCK_BROKERS = 3;

/** A Kafka a scenario runs on instead of the suite's: a broker the test stops and starts itself. */
export interface ScenarioKafka {
  readonly bootstraps: string;
  /** Creates a topic and waits until its partitions are known. */
  createTopic(name: string, partitions: number, configs?: Record<string, string>): Promise<void>;
}

/** The services one suite file owns for its whole run. */
export class FaultServices {
  private readonly created: string[] = [];

  private constructor(
    readonly redis: RedisInstance,
    readonly pg: PostgresInstance,
    private readonly mockCluster: MockCluster | null,
    private readonly admin: Admin | null,
    readonly bootstraps: string,
    readonly sql: Sql,
  ) {}

  /** Starts redis-server, a PostgreSQL cluster and the mock cluster or a client of the real broker (never the shared 5432/6379). */
  static async start(kafka: "mock" | "real" = "mock"): Promise<FaultServices> {
    const started: Array<{ dispose(): Promise<void> }> = [];
    try {
      const redis = await RedisInstance.start();
      started.push(redis);
      const pg = await PostgresInstance.start();
      started.push(pg);
      let mock: MockCluster | null = null;
      let admin: Admin | null = null;
      if (kafka === "mock") {
        const m = await MockCluster.start({ brokers: MOCK_BROKERS });
        mock = m;
        started.push({ dispose: () => m.stop() });
      } else {
        if (!REAL_BROKERS) throw new Error("a real-broker fault suite needs KAFKA_BROKERS");
        admin = new Admin({ config: { "bootstrap.servers": REAL_BROKERS } });
      }
      const sql = postgres(pg.url, { max: 2, onnotice: () => {}, connection: { application_name: INJECTOR_APP } });
      return new FaultServices(redis, pg, mock, admin, mock?.bootstraps ?? REAL_BROKERS!, sql);
    } catch (err) {
      for (const s of started.reverse()) await s.dispose().catch(() => undefined);
      throw err;
    }
  }

  /** True when the suite runs on the real broker (KAFKA_BROKERS). */
  get real(): boolean {
    return this.mockCluster === null;
  }

  /** The mock cluster (for the faults only its API can inject); throws on a real-broker suite. */
  get mock(): MockCluster {
    if (!this.mockCluster) throw new Error("this fault suite runs on the real broker: the mock cluster's fault injection is not available");
    return this.mockCluster;
  }

  /** Creates a topic on the real broker and waits until all its partitions are in the metadata. */
  async createTopic(name: string, partitions: number, configs?: Record<string, string>): Promise<void> {
    const admin = this.admin;
    if (!admin) throw new Error("createTopic is for real-broker suites; use mock.createTopic");
    await admin.createTopics([{ name, partitions, replicationFactor: 1, configs }]);
    this.created.push(name);
    const deadline = Date.now() + 30_000;
    while (!(await admin.listTopics()).some((m) => m.name === name && m.partitions.length === partitions)) {
      if (Date.now() > deadline) throw new Error(`topic ${name} has not all ${partitions} partitions after 30 s`);
      await Bun.sleep(100);
    }
  }

  /** Kafka client config for the suite's Kafka. */
  get kafka(): KafkaConfig {
    return { "bootstrap.servers": this.bootstraps };
  }

  /** Environment the fleet reads its connection settings from (the topology file holds only `${VAR}`s). */
  fleetEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
    return {
      ...process.env,
      TF_FAULT_BROKERS: this.bootstraps,
      TF_FAULT_REDIS_URL: this.redis.url,
      TF_FAULT_DATABASE_URL: this.pg.url,
      TOPOFLEET_LOG_LEVEL: "info",
      ...extra,
    };
  }

  /** Stops everything; a stuck stop never keeps the others running. */
  async stop(): Promise<void> {
    await this.sql.end({ timeout: 5 }).catch(() => undefined);
    await this.mockCluster?.stop().catch(() => undefined);
    if (this.admin) {
      if (this.created.length) await this.admin.deleteTopics(this.created).catch(() => undefined);
      await this.admin.close().catch(() => undefined);
    }
    await this.pg.dispose().catch(() => undefined);
    await this.redis.dispose().catch(() => undefined);
  }
}

/**
 * Registers the suite file's services: started once in beforeAll, stopped in afterAll. Returns an accessor
 * for the tests (the services exist only once beforeAll ran).
 */
export function faultSuite(kafka: "mock" | "real" = REAL_BROKERS ? "real" : "mock"): () => FaultServices {
  return suiteResource("fault services", () => FaultServices.start(kafka), (s) => s.stop(), 120_000);
}
