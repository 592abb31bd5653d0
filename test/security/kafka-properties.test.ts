/**
 * Kafka TLS and SASL settings are plain librdkafka properties in the topology's `source.kafka.properties`:
 * they must reach librdkafka unchanged (the consumer and the dead-letter producer), stay redacted in
 * `--explain`, and make librdkafka itself talk TLS + SASL: against a broker that does not speak it the
 * client reports librdkafka's own transport/SSL error, never a configuration error of ours.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { makeTestCertificates, opensslAvailable, type TestCertificates } from "../../dev/faults/tls.ts";
import { Consumer, KafkaError, MockCluster } from "../../shared/kafka/index.ts";
import { consumerConfig, deadLetterProducerConfig, sourceBrokers } from "../../shared/runtime/engine/kafka-config.ts";
import { loadTopology } from "../../shared/topology/index.ts";
import type { ResolvedTopology } from "../../shared/topology/types.ts";
import { leaks, runCli } from "./support.ts";
import { writeTopology } from "../../dev/support/topology.ts";
import { skipWithout } from "../../dev/support/services.ts";
import { tempDir } from "../../dev/support/temp-dir.ts";

const PASSWORD = "kafka-pw-Q7v9-planted";

/** A topology whose Kafka source talks SASL_SSL with a CA file, the password from the environment. */
function saslTopology(caPath: string): string {
  return `name: kafka-sec
source:
  kafka:
    brokers: \${KAFKA_BROKERS}
    topics: [events]
    group: kafka-sec
    properties:
      security.protocol: SASL_SSL
      sasl.mechanisms: SCRAM-SHA-512
      sasl.username: svc-topofleet
      sasl.password: \${KAFKA_PASSWORD}
      ssl.ca.location: ${caPath}
stages:
  - enrich: {}
http: {port: 0}
`;
}

const SECURITY_KEYS = ["security.protocol", "sasl.mechanisms", "sasl.username", "sasl.password", "ssl.ca.location"] as const;

const skip = skipWithout(opensslAvailable, "Kafka TLS and SASL properties", "the openssl CLI is not installed (needed to make a test CA)");
describe.skipIf(skip)("Kafka TLS and SASL properties", () => {
  let dir: string;
  let certs: TestCertificates;
  let file: string;
  let mock: MockCluster;
  let topology: ResolvedTopology;
  const env = () => ({ ...process.env, KAFKA_BROKERS: mock.bootstraps, KAFKA_PASSWORD: PASSWORD });

  beforeAll(async () => {
    dir = tempDir("sec-kafka").dir;
    certs = await makeTestCertificates(dir);
    file = writeTopology(dir, saslTopology(certs.ca), "kafka-sec.yaml");
    // A plaintext broker: reachable, but it speaks neither TLS nor SASL.
    mock = await MockCluster.start({ brokers: 1, topics: [{ name: "events", partitions: 1 }] });
    topology = await loadTopology(file, { env: env() });
  });
  afterAll(async () => {
    await mock?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("every TLS/SASL property reaches the consumer config and the dead-letter producer config unchanged", () => {
    const launch = { brokersOverride: null, databaseUrlOverride: null };
    const consumer = consumerConfig(topology, 0, sourceBrokers(topology, launch));
    const producer = deadLetterProducerConfig(topology, 0, sourceBrokers(topology, launch));
    const expected = {
      "security.protocol": "SASL_SSL",
      "sasl.mechanisms": "SCRAM-SHA-512",
      "sasl.username": "svc-topofleet",
      "sasl.password": PASSWORD,
      "ssl.ca.location": certs.ca,
    };
    for (const cfg of [consumer, producer]) {
      for (const k of SECURITY_KEYS) expect(cfg[k]).toBe(expected[k]);
      expect(cfg["bootstrap.servers"]).toBe(mock.bootstraps);
    }
  });

  test("librdkafka validates them: an unreadable ssl.ca.location is librdkafka's own refusal naming the property", () => {
    const cfg = consumerConfig({ ...topology, source: { ...topology.source, properties: { ...topology.source.properties, "ssl.ca.location": join(dir, "missing-ca.pem") } } }, 0, mock.bootstraps);
    let err: unknown;
    try {
      new Consumer({ config: cfg }).close();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KafkaError);
    expect((err as KafkaError).code).toBe("CONFIG_INVALID");
    expect((err as KafkaError).message).toContain("ssl.ca.location");
    expect((err as KafkaError).message).not.toContain(PASSWORD);
  });

  test("a consumer built from the topology fails with librdkafka's TLS transport error, not a config error", async () => {
    const errors: Error[] = [];
    const consumer = new Consumer({ config: consumerConfig(topology, 0, sourceBrokers(topology, { brokersOverride: null, databaseUrlOverride: null })), onError: (e) => errors.push(e) });
    try {
      consumer.subscribe(topology.source.topics);
      const deadline = Date.now() + 20_000;
      while (!errors.some((e) => /SSL|sasl_ssl/i.test(e.message)) && Date.now() < deadline) {
        const b = await consumer.consume(100, 200);
        expect(b.messages.length).toBe(0); // nothing can be read over a connection that never came up
        b.release();
      }
    } finally {
      await consumer.close().catch(() => undefined);
    }
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) {
      expect(e).toBeInstanceOf(KafkaError);
      // librdkafka error names start with "_" (local) or are broker error names; ours would be CONFIG_INVALID.
      expect((e as KafkaError).code).not.toBe("CONFIG_INVALID");
      expect(e.message).not.toContain(PASSWORD);
    }
    // librdkafka names the broker by its security protocol and fails in the TLS handshake: TLS was really on.
    const tls = errors.find((e) => /sasl_ssl:\/\//.test(e.message));
    expect(tls).toBeDefined();
    expect(["_TRANSPORT", "_SSL", "_AUTHENTICATION", "_ALL_BROKERS_DOWN"]).toContain((tls as KafkaError).code);
  }, 60_000);

  test("--explain lists the properties with sasl.password redacted and never prints the password", async () => {
    const r = await runCli([file, "--explain"], env());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("security.protocol: SASL_SSL");
    expect(r.stdout).toContain("sasl.mechanisms: SCRAM-SHA-512");
    expect(r.stdout).toContain("sasl.username: svc-topofleet");
    expect(r.stdout).toContain(`ssl.ca.location: ${certs.ca}`);
    expect(r.stdout).toMatch(/sasl\.password: "?\[redacted\]"?/);
    expect(leaks(r.stdout + r.stderr, { "sasl.password": PASSWORD })).toEqual([]);
  }, 60_000);
});
