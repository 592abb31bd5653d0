/** The `topology` CLI as a subprocess: help, usage errors, --validate, --explain, --emit. */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { MockCluster } from "../../shared/kafka/index.ts";
import { uniqueName } from "../../dev/support/services.ts";
import { REPO, runCliToEnd } from "../../dev/support/cli-process.ts";
import { writeTopology } from "../../dev/support/topology.ts";
import { tempDir } from "../../dev/support/temp-dir.ts";

const tmp = tempDir("cli");
afterAll(() => tmp.cleanup());

const GOOD = `name: cli-good
source:
  mock:
    partitions: 6
    topics: [events]
stages:
  - enrich: {}
  - persist:
      url: \${CLI_TEST_DB_URL:-postgres://postgres@127.0.0.1:5432/test}
http:
  port: 0
`;

// Three problems on known lines: an unknown top-level key (2), a bad port (8), a ratio above 1 (11).
const BAD = `name: cli-bad
sourcee:
  mock: {}
stages:
  - enrich: {}
http:
  host: 0.0.0.0
  port: 70000
concurrency:
  replicas:
    min: 0
`;

describe("topology CLI", () => {
  test("--help prints the usage and exits 0", async () => {
    const r = await runCliToEnd(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: bun run topology <topology.yaml> [flags]");
    for (const flag of ["--validate", "--explain", "--replicas", "--max-events", "--json", "--data-dir", "--migrate", "--emit"]) {
      expect(r.stdout).toContain(flag);
    }
  });

  test("an unknown flag is a usage error naming it (exit 2)", async () => {
    const r = await runCliToEnd(["topologies/demo.yaml", "--max-event", "5"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown flag --max-event");
    expect(r.stdout).toBe("");
  });

  test("a bad flag value is a usage error naming the flag (exit 2)", async () => {
    const r = await runCliToEnd(["topologies/demo.yaml", "--replicas", "lots"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--replicas expects a positive integer, got "lots"');
  });

  test("--validate on a good file prints OK and exits 0", async () => {
    const file = writeTopology(tmp.dir, GOOD, "good.yaml");
    const r = await runCliToEnd([file, "--validate"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toStartWith(`OK ${file}`);
  });

  test("--validate accepts the shipped examples", async () => {
    for (const name of ["demo.yaml", "ingest.yaml", "filter.yaml"]) {
      const r = await runCliToEnd([join(REPO, "topologies", name), "--validate"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain("OK ");
    }
  });

  test("--validate on a bad file prints every issue as file:line:col and exits 2", async () => {
    const file = writeTopology(tmp.dir, BAD, "bad.yaml");
    const r = await runCliToEnd([file, "--validate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}:2:1: sourcee:`);
    expect(r.stderr).toContain(`${file}:8:9: http.port:`);
    expect(r.stderr).toContain(`${file}:11:10: concurrency.replicas.min:`);
    expect(r.stdout).toBe("");
  });

  test("a missing topology file exits 2", async () => {
    const r = await runCliToEnd([join(tmp.dir, "nope.yaml"), "--validate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("nope.yaml");
  });

  test("--explain prints the redacted topology and the mock's partitions vs replicas", async () => {
    const file = writeTopology(tmp.dir, GOOD, "explain.yaml");
    const r = await runCliToEnd([file, "--explain", "--replicas", "8"], { CLI_TEST_DB_URL: "postgres://app:hunter2@db:5432/x" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("6 partition(s)");
    expect(r.stdout).toContain("What bounds throughput");
    expect(r.stdout).not.toContain("hunter2");
  });

  test("--explain queries the partition count of a reachable Kafka cluster", async () => {
    const cluster = await MockCluster.start({ brokers: 1 });
    try {
      const topic = uniqueName("explain");
      cluster.createTopic(topic, 5);
      const yaml = `name: cli-kafka
source:
  kafka:
    brokers: "${cluster.bootstraps}"
    topics: [${topic}]
    group: g
stages:
  - enrich: {}
  - persist:
      url: postgres://postgres@127.0.0.1:5432/test
concurrency:
  replicas: { min: 1, max: 8, lagPerReplica: 1000 }
`;
      const r = await runCliToEnd([writeTopology(tmp.dir, yaml, "explain-kafka.yaml"), "--explain"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain("8 replicas but 5 partition(s)");
    } finally {
      await cluster.stop();
    }
  });

  test("--emit systemd --out DIR writes the units and lists them", async () => {
    const file = writeTopology(tmp.dir, GOOD, "emit.yaml");
    const out = join(tmp.dir, "systemd");
    const r = await runCliToEnd([file, "--emit", "systemd", "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    const files = readdirSync(out);
    expect(files).toContain("topofleet-cli-good@.service");
    for (const f of files) expect(r.stdout).toContain(`wrote ${join(out, f)}`);
  });

  test("--emit refusing a topology is a configuration error (exit 2)", async () => {
    // Kubernetes cannot run the in-process mock cluster: the emitter says so.
    const file = writeTopology(tmp.dir, GOOD, "emit-k8s.yaml");
    const r = await runCliToEnd([file, "--emit", "k8s", "--out", join(tmp.dir, "k8s")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("mock");
  });
});
