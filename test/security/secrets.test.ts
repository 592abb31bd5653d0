/**
 * Secrets never leave the environment: planted passwords (DATABASE_URL, REDIS_URL, Kafka sasl.password) must
 * not appear in `--explain` output, in a real run's logs at debug level, or in the HTTP endpoints, which
 * must not show configuration values at all (no broker, database or Redis address). A topology file that
 * holds a secret inline instead of `${ENV}` draws a warning that names the key but not the value.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import postgres from "postgres";
import { RedisInstance } from "../../dev/faults/redis-instance.ts";
import { MockCluster, Producer } from "../../shared/kafka/index.ts";
import { runGenerator } from "../../shared/loadgen/index.ts";
import { describeWith, PG_URL, uniqueName } from "../../dev/support/services.ts";
import { CliProcess, leaks, runCli } from "./support.ts";
import { writeTopology } from "../../dev/support/topology.ts";
import { tempDir } from "../../dev/support/temp-dir.ts";

const SECRETS = {
  database: "pg-pw-Hq3-planted",
  redis: "redis-pw-Vb7-planted",
  kafka: "kafka-pw-Lm2-planted",
};

/** A full pipeline whose every secret comes from the environment. */
function pipelineYaml(o: { table: string; topic: string; group: string; prefix: string }): string {
  return `name: secrets-check
source:
  kafka:
    brokers: \${KAFKA_BROKERS}
    topics: [${o.topic}]
    group: ${o.group}
    properties:
      # The mock broker speaks no SASL: librdkafka ignores these with PLAINTEXT, but they are configured.
      security.protocol: PLAINTEXT
      sasl.mechanisms: PLAIN
      sasl.username: svc-topofleet
      sasl.password: \${KAFKA_PASSWORD}
stages:
  - enrich: {threads: 1}
  - dedupe:
      backend: redis
      redis: {url: "\${REDIS_URL}", mode: bitmap}
      prefix: ${o.prefix}
      expectedPerWindow: 100000
  - persist:
      url: \${DATABASE_URL}
      table: ${o.table}
      connections: 1
deadLetter: {topic: ${o.topic}.dlq}
http: {port: 9464, host: 127.0.0.1}
log: {level: debug}
`;
}

/** PG_URL with the planted password (trust auth on the test server ignores it; the driver still carries it). */
function databaseUrlWithSecret(): string {
  const u = new URL(PG_URL);
  u.password = SECRETS.database;
  return u.toString();
}

describe("inline secrets", () => {
  test("--validate warns about secrets written into the file, naming the key but never the value", async () => {
    const dir = tempDir("sec-inline").dir;
    try {
      const inlineKafka = "inline-kafka-pw-Wz5";
      const inlineDb = "inline-db-pw-Rt8";
      const file = writeTopology(
        dir,
        `name: inline-secrets
source:
  kafka:
    brokers: 127.0.0.1:9
    topics: [events]
    group: g
    properties:
      sasl.password: ${inlineKafka}
stages:
  - enrich: {}
  - persist: {url: "postgres://app:${inlineDb}@db.internal:5432/app"}
`,
        "inline.yaml",
      );
      const r = await runCli([file, "--validate"], { ...process.env });
      expect(r.code).toBe(0);
      const warnings = r.stdout.split("\n").filter((l) => l.startsWith("warning:"));
      // Each warning points at the file position and the key path of the literal.
      expect(warnings.some((w) => w.includes(`${file}:8:`) && w.includes("sasl.password"))).toBe(true);
      expect(warnings.some((w) => w.includes(`${file}:11:`) && w.includes("stages[1].persist.url"))).toBe(true);
      expect(leaks(r.stdout + r.stderr, { inlineKafka, inlineDb })).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("planted secrets in --explain", () => {
  test("--explain prints the resolved topology with every planted secret redacted", async () => {
    const dir = tempDir("sec-explain").dir;
    try {
      const file = writeTopology(dir, pipelineYaml({ table: "t", topic: "events", group: "g", prefix: "tf:sec" }), "pipeline.yaml");
      const r = await runCli([file, "--explain"], {
        ...process.env,
        KAFKA_BROKERS: "127.0.0.1:9",
        KAFKA_PASSWORD: SECRETS.kafka,
        REDIS_URL: `redis://:${SECRETS.redis}@127.0.0.1:6390`,
        DATABASE_URL: databaseUrlWithSecret(),
        TOPOFLEET_LOG_LEVEL: "debug",
      });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("redisUrl: redis://:***@127.0.0.1:6390");
      expect(r.stdout).toMatch(/url: postgres:\/\/postgres:\*\*\*@/);
      expect(r.stdout).toMatch(/sasl\.password: "?\[redacted\]"?/);
      expect(leaks(r.stdout + r.stderr, SECRETS)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describeWith("postgres", "planted secrets in a real run", () => {
  const names = { table: uniqueName("sec_events"), topic: uniqueName("sec-events"), group: uniqueName("sec-group"), prefix: uniqueName("tf:sec") };
  let dir: string;
  let redis: RedisInstance;
  let mock: MockCluster;
  const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });

  beforeAll(async () => {
    dir = tempDir("sec-run").dir;
    redis = await RedisInstance.start({ password: SECRETS.redis });
    mock = await MockCluster.start({ brokers: 1, topics: [{ name: names.topic, partitions: 2 }, { name: `${names.topic}.dlq`, partitions: 1 }] });
  }, 60_000);
  afterAll(async () => {
    await sql`DROP TABLE IF EXISTS ${sql(names.table)} CASCADE`.catch(() => undefined);
    await sql.end({ timeout: 5 });
    await mock?.stop();
    await redis?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test("logs at debug level and the /metrics, /healthz, /readyz bodies never show a secret or a configured address", async () => {
    const file = writeTopology(dir, pipelineYaml(names), "pipeline.yaml");
    const databaseUrl = databaseUrlWithSecret();
    const events = 2000;
    const cli = new CliProcess([file, "--max-events", String(events), "--json", "--data-dir", dir], {
      ...process.env,
      KAFKA_BROKERS: mock.bootstraps,
      KAFKA_PASSWORD: SECRETS.kafka,
      REDIS_URL: redis.url,
      DATABASE_URL: databaseUrl,
      TOPOFLEET_LOG_LEVEL: "debug",
      TOPOFLEET_HTTP_PORT: "auto",
    });
    try {
      const [, port] = await cli.waitForStderr(/http listening on [^"]*:(\d+)/, 60_000);
      const base = `http://127.0.0.1:${port}`;
      const bodies: string[] = [];
      const grab = async () => {
        for (const path of ["/metrics", "/healthz", "/readyz"]) bodies.push(await (await fetch(base + path)).text());
      };
      await grab(); // while starting: /readyz explains why it is not ready yet
      // Ready once the worker has its assignment and every stage (Redis, PostgreSQL) answers.
      const deadline = Date.now() + 60_000;
      while ((await fetch(`${base}/readyz`)).status !== 200) {
        if (Date.now() > deadline) throw new Error(`never ready:\n${cli.tail()}`);
        await Bun.sleep(200);
      }
      await grab();
      const producer = new Producer({ config: { "bootstrap.servers": mock.bootstraps } });
      try {
        await runGenerator({ producer, topic: names.topic, config: { rate: 0, events, tenants: 2, duplicateRatio: 0.02, invalidRatio: 0.01, binaryRatio: 0.2, payloadBytes: 100 }, key: "id" });
      } finally {
        await producer.close();
      }
      await Bun.sleep(1500); // a status round: metrics now carry lag and per-stage series
      if (cli.running) await grab();
      const code = await cli.exited;
      expect(code).toBe(0);
      expect(cli.summary()).toMatchObject({ events, lost: 0 });

      // The grep is only meaningful if debug logging really ran and the endpoints served real content.
      expect(cli.stderr).toContain('"level":20');
      const metrics = bodies.filter((b) => b.includes("# TYPE"));
      expect(metrics.length).toBeGreaterThan(0);
      expect(leaks(cli.stdout + cli.stderr, SECRETS)).toEqual([]);

      const pg = new URL(PG_URL);
      const addresses = {
        ...SECRETS,
        brokers: mock.bootstraps,
        firstBroker: mock.bootstraps.split(",")[0],
        database: `${pg.hostname}:${pg.port || "5432"}`,
        redis: `127.0.0.1:${redis.port}`,
        redisPort: `:${redis.port}`,
        postgresScheme: "postgres://",
        redisScheme: "redis://",
        saslUser: "svc-topofleet",
        table: names.table,
      };
      for (const body of bodies) expect(leaks(body, addresses)).toEqual([]);
    } finally {
      cli.killAll();
      await cli.exited;
    }
  }, 180_000);
});
