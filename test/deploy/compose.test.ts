import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { buildDashboard } from "../../shared/deploy/dashboard.ts";
import { emit, deploymentName } from "../../shared/deploy/index.ts";
import { M } from "../../shared/telemetry/names.ts";
import { loadTopology } from "../../shared/topology/index.ts";
import { PLANTED, REPO, loadIngest } from "./support.ts";
import { tempDir } from "../../dev/support/temp-dir.ts";

// Compose files use YAML merge keys (<<), which YAML 1.2 parsers apply only when asked.
const compose = parse(readFileSync(join(REPO, "docker-compose.yml"), "utf8"), { merge: true });
const services = compose.services as Record<string, any>;

describe("docker-compose.yml", () => {
  test("has the required services", () => {
    for (const s of ["kafka-1", "kafka-2", "kafka-3", "kafka-init", "redis", "postgres", "prometheus", "grafana", "topofleet"]) expect(services[s]).toBeDefined();
  });

  test("Kafka 4.x in KRaft mode: 3 combined broker+controller nodes, RF 3, min ISR 2", () => {
    const ids = new Set<number>();
    for (const n of [1, 2, 3]) {
      const k = services[`kafka-${n}`];
      expect(k.image).toMatch(/^apache\/kafka:4\./);
      expect(k.environment.KAFKA_PROCESS_ROLES).toBe("broker,controller");
      expect(k.environment.KAFKA_CONTROLLER_QUORUM_VOTERS.split(",").length).toBe(3);
      expect(Number(k.environment.KAFKA_DEFAULT_REPLICATION_FACTOR)).toBe(3);
      expect(Number(k.environment.KAFKA_MIN_INSYNC_REPLICAS)).toBe(2);
      ids.add(k.environment.KAFKA_NODE_ID);
    }
    expect(ids.size).toBe(3);
  });

  test("Redis 8 with AOF, PostgreSQL 18 with the tuned config from dev/", () => {
    expect(services.redis.image).toMatch(/^redis:8/);
    expect(services.redis.command.join(" ")).toContain("--appendonly yes");
    expect(services.postgres.image).toMatch(/^postgres:18/);
    const mount = services.postgres.volumes.find((v: string) => v.includes("postgresql.conf"));
    const conf = join(REPO, mount.split(":")[0]);
    expect(existsSync(conf)).toBe(true);
    expect(readFileSync(conf, "utf8")).toMatch(/^max_wal_size\s*=/m);
    expect(readFileSync(conf, "utf8")).toMatch(/^synchronous_commit = on/m);
  });

  test("every long-running service has a healthcheck; workers wait for healthy dependencies", () => {
    for (const [n, s] of Object.entries(services)) expect(s.healthcheck, n).toBeDefined();
    const deps = services.topofleet.depends_on;
    for (const d of ["kafka-1", "kafka-2", "kafka-3", "redis", "postgres"]) expect(deps[d].condition).toBe("service_healthy");
    expect(deps["kafka-init"].condition).toBe("service_completed_successfully");
    expect(services.topofleet.deploy.replicas).toBeGreaterThan(1);
  });

  test("the worker service runs a topology file that validates", async () => {
    const file = services.topofleet.command[0];
    const env = Object.fromEntries(Object.entries(services.topofleet.environment as Record<string, string>).map(([k, v]) => [k, v.replace(/\$\{[^}]+\}/g, "x")]));
    const t = await loadTopology(join(REPO, file), { env });
    expect(t.source.kind).toBe("kafka");
    expect(t.http.port).toBe(9464);
  });

  test("Prometheus scrapes the workers; Grafana provisions a dashboard that uses exported metric names only", () => {
    const prom = parse(readFileSync(join(REPO, "dev/deploy/prometheus/prometheus.yml"), "utf8"));
    expect(prom.scrape_configs[0].dns_sd_configs[0].names).toContain("topofleet");
    const shipped = JSON.parse(readFileSync(join(REPO, "dev/deploy/grafana/dashboards/topofleet.json"), "utf8"));
    expect(shipped).toEqual(buildDashboard()); // regenerate: bun dev/deploy/grafana/build-dashboard.ts
    const known = new Set(Object.values(M));
    const used = JSON.stringify(shipped).match(/topofleet_[a-z_]+/g)!.map((n) => n.replace(/_(bucket|sum|count)$/, ""));
    expect(used.length).toBeGreaterThan(10);
    for (const n of used) expect(known.has(n as never), n).toBe(true);
  });
});

describe("Dockerfile", () => {
  const df = readFileSync(join(REPO, "Dockerfile"), "utf8");
  test("official Bun image, librdkafka 2.15.1 built by dev/setup.sh's script, lockfile, non-root, HEALTHCHECK on /healthz", () => {
    expect(df).toMatch(/^FROM oven\/bun:1\.4\.5/m);
    // The same build script as dev/setup.sh, and the runtime loads exactly its output.
    expect(df).toMatch(/^COPY dev\/librdkafka\/build\.sh /m);
    expect(df).toMatch(/TOPOFLEET_CACHE=\/opt\/topofleet bash \S*build\.sh/);
    expect(df).toContain("RDKAFKA_LIB=/opt/topofleet/librdkafka-2.15.1/librdkafka.so.1");
    expect(df).not.toMatch(/apt-get install .*librdkafka1/);
    expect(df).toContain("bun install --frozen-lockfile");
    expect(df).toMatch(/COPY .*bun\.lock/);
    expect(df).toMatch(/^USER (?!root)\S+/m);
    expect(df).toMatch(/^HEALTHCHECK [\s\S]*\/healthz/m);
  });
});

describe("--emit compose", async () => {
  const t = await loadIngest();
  const dir = tempDir("compose").dir;
  const [file] = emit("compose", t, dir, { partitions: 12 });
  const text = readFileSync(file, "utf8");
  const svc = parse(text).services[deploymentName(t)];
  test("a worker service block with replicas, grace period and healthcheck; env by name only", () => {
    expect(svc.deploy.replicas).toBe(t.concurrency.replicas.min);
    expect(parseInt(svc.stop_grace_period) * 1000).toBeGreaterThan(t.shutdown.deadlineMs);
    expect(svc.healthcheck.test.join(" ")).toContain("/healthz");
    expect(svc.environment).toContain("DATABASE_URL");
    expect(text).not.toContain(PLANTED);
  });
});
