/**
 * Kafka faults under load. On the mock: one broker of the 3-broker cluster down for 10 s (topics replicated on
 * all three; the mock does not move partition leadership, so partitions led by that broker, and the group
 * coordinator if it lives there, stall until it returns: the stall is accepted and exactness checked). On a
 * real broker (KAFKA_BROKERS): the same outage as a process fault on a broker the test starts itself, which
 * leads every partition and is the group coordinator: stopped with SIGTERM (controlled shutdown) or SIGKILL
 * (a crash; the restart recovers its logs), then started again. Both: consumer-group membership going
 * 1 -> 3 -> 1 (cooperative rebalances) by starting and draining two more `topology --replicas 1` processes.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { KafkaBrokerInstance } from "../../dev/faults/kafka-broker.ts";
import { Admin, type KafkaError } from "../../shared/kafka/index.ts";
import { describeMockOnly, REAL_BROKERS } from "../../dev/support/kafka.ts";
import { expectExact, faultSuite, MOCK_BROKERS, runScenario, Scenario, type ScenarioKafka } from "./harness.ts";

const services = faultSuite();

describeMockOnly("broker outage (mock cluster API)", "it takes a mock broker down through the mock's API; the real run stops a real broker process instead", () => {
  test("a broker down for 10 s, then up: the stall resolves and the result is exact", async () => {
    // The mock (librdkafka 2.0) picks each partition's leader at random among its replicas: with 24
    // partitions the downed broker leads some of them except with probability (2/3)^24 ~ 6e-5.
    const s = new Scenario(services(), { label: "broker-down-10s", events: 24_000, rate: 3000, partitions: 24 });
    await runScenario(s, async () => {
      const fleet = s.startFleet();
      const producing = s.produce();
      await s.waitCommitted(4000, 90_000);
      const broker = MOCK_BROKERS; // the highest id: leads a share of the partitions
      // The mock lists its brokers in id order.
      const address = services().mock.bootstraps.split(",")[broker - 1];
      services().mock.brokerDown(broker);
      await Bun.sleep(10_000);
      services().mock.brokerUp(broker);
      const { manifest } = await producing;
      // Exactness is the claim; the duplicate counter may include batches re-processed after a lost commit.
      const r = await s.finish(manifest, { exactDuplicates: false, timeoutMs: 180_000 });
      // The outage was real: the worker's librdkafka saw that broker refuse or drop its connections.
      expect(fleet.stderr).toMatch(new RegExp(`${address.replace(/\./g, "\\.")}[^\n]*(refused|Disconnected|failed)`));
      expectExact(r);
    });
  }, 300_000);
});

/** A broker of the test's own, as a ScenarioKafka (its topics are created through its admin API). */
function ownBroker(b: KafkaBrokerInstance): ScenarioKafka {
  return {
    bootstraps: b.bootstraps,
    async createTopic(name, partitions, configs) {
      const admin = new Admin({ config: { "bootstrap.servers": b.bootstraps } });
      try {
        // A broker that has just started may still be electing its controller: retry what is retriable.
        for (let attempt = 1; ; attempt++) {
          const err = await admin.createTopics([{ name, partitions, replicationFactor: 1, configs }]).then(() => null, (e: KafkaError) => e);
          if (!err || err.code === "TOPIC_ALREADY_EXISTS") break;
          if (!err.retriable || attempt >= 6) throw err;
          await Bun.sleep(1000);
        }
        for (let i = 0; i < 300; i++) {
          const t = (await admin.listTopics()).find((m) => m.name === name);
          if (t?.partitions.length === partitions) return;
          await Bun.sleep(100);
        }
        throw new Error(`topic ${name} has not all ${partitions} partitions after 30 s`);
      } finally {
        await admin.close();
      }
    },
  };
}

(REAL_BROKERS ? describe : describe.skip)("real broker process down, then restarted", () => {
  if (!REAL_BROKERS) console.warn("[real-broker-only] real broker process down: needs KAFKA_BROKERS (a run with a real broker); the mock run covers the outage through its API");
  let broker: KafkaBrokerInstance | null = null;
  afterAll(async () => {
    await broker?.dispose();
  }, 60_000);

  for (const signal of ["TERM", "KILL"] as const) {
    test(`SIG${signal} of the broker for 10 s under load, then a restart${signal === "KILL" ? " with log recovery" : ""}: the stall resolves and the result is exact`, async () => {
      broker ??= await KafkaBrokerInstance.start();
      const s = new Scenario(services(), { label: `broker-sig${signal.toLowerCase()}`, events: 24_000, rate: 3000, kafka: ownBroker(broker) });
      await runScenario(s, async () => {
        const fleet = s.startFleet();
        const producing = s.produce();
        await s.waitCommitted(4000, 90_000);
        await broker!.stop(signal);
        await Bun.sleep(10_000);
        await broker!.start();
        const { manifest } = await producing;
        // After an outage longer than the session timeout the worker's own rejoin fences its old membership
        // (FENCED_INSTANCE_ID): the supervisor restarts it. Those restarts are expected, no other crash is.
        const r = await s.finish(manifest, { exactDuplicates: false, timeoutMs: 180_000, fencingRestartsExpected: true });
        // The outage was real: the worker's librdkafka lost the broker (logged through pino, never raw).
        expect(fleet.stderr).toMatch(new RegExp(`${broker!.bootstraps.replace(/\./g, "\\.")}[^\n]*(refused|Disconnected|failed|down)`, "i"));
        expectExact(r);
      });
    }, 360_000);
  }
});

describe("scaling the consumer group", () => {
  test("replicas 1 -> 3 -> 1 during load (cooperative rebalances): nothing lost, nothing duplicated", async () => {
    const s = new Scenario(services(), { label: "replicas-1-3-1", events: 30_000, rate: 3000, partitions: 6 });
    await runScenario(s, async () => {
      const first = s.startFleet();
      const producing = s.produce();
      await s.waitCommitted(4000, 90_000);
      const extra = [s.startFleet(), s.startFleet()];
      // Both newcomers got partitions: the group really ran with three members.
      await Promise.all(extra.map((f) => f.waitForStderr(/"msg":"partitions assigned"/, 60_000)));
      await s.waitCommitted(s.committed + 6000, 90_000);
      for (const f of extra) {
        const { code } = await s.stopFleet(f);
        expect(code).toBe(0);
      }
      const { manifest } = await producing;
      const r = await s.finish(manifest, { exactDuplicates: false });
      // The first member gave partitions away and took them back.
      expect(first.stderr).toMatch(/"msg":"partitions revoked"/);
      expect(first.stderr.match(/"msg":"partitions assigned"/g)!.length).toBeGreaterThan(1);
      expectExact(r);
    });
  }, 300_000);
});
