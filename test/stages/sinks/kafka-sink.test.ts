/**
 * The sink conformance suite over the Kafka sink, structured and binary mode: on the mock cluster, or on the
 * real broker named by KAFKA_BROKERS (where the outage case is skipped: the test cannot take that broker down).
 * The event too large is refused by the producer itself on the mock (maxRecordBytes), by the broker on a real
 * one (the topic's max.message.bytes), where the refusal covers the whole produce batch it travelled in and the
 * sink must find the one record at fault.
 */
import { describe } from "bun:test";
import type { KafkaSinkStageConfig } from "../../../shared/stages/kafka-sink/config.ts";
import { KAFKA_SINK_DEFAULTS } from "../../../shared/stages/kafka-sink/spec.ts";
import { type Copied, kafkaSuite, readTopic, REAL_BROKERS } from "../../../dev/support/kafka.ts";
import { uniqueName } from "../../../dev/support/services.ts";
import { kafkaSinkConfig } from "../../../dev/support/stage-configs.ts";
import { sinkConformance, type SinkBackend, type StoredEvent } from "./conformance.ts";

const kafka = kafkaSuite();
const PARTITIONS = 2;
/** Small, so that the poison event (below enrich's 64 KiB limit) is over it. */
const RECORD_LIMIT = 16_000;
const CORE = new Set(["specversion", "id", "source", "type", "subject", "time", "data", "datacontenttype"]);
const text = (b: Uint8Array | null | undefined): string | null => (b ? new TextDecoder().decode(b) : null);

/** The event a record carries, in either mode. */
function eventOf(m: Copied, mode: KafkaSinkStageConfig["mode"]): { id: string } & StoredEvent {
  if (mode === "structured") {
    const e = JSON.parse(text(m.value)!) as Record<string, unknown>;
    const extensions = Object.fromEntries(Object.entries(e).filter(([k]) => !CORE.has(k)));
    return { id: e.id as string, subject: (e.subject as string | undefined) ?? null, extensions };
  }
  const extensions: Record<string, unknown> = {};
  for (const [name, v] of m.headerList) if (name.startsWith("ce_") && !CORE.has(name.slice(3))) extensions[name.slice(3)] = text(v);
  return { id: text(m.headers.get("ce_id"))!, subject: text(m.headers.get("ce_subject")), extensions };
}

function kafkaBackend(mode: KafkaSinkStageConfig["mode"]): SinkBackend {
  return {
    copiesAfterRedelivery: 2,
    noOutage: REAL_BROKERS ? "a real broker (KAFKA_BROKERS) cannot be taken down by the test" : null,
    async fresh() {
      const topic = uniqueName("sink");
      // A real broker enforces the limit (per topic), the mock does not: there the producer does (maxRecordBytes).
      await kafka().createTopic(topic, PARTITIONS, REAL_BROKERS ? { "max.message.bytes": String(RECORD_LIMIT) } : {});
      const config = kafkaSinkConfig(kafka().bootstraps, topic, {
        mode,
        maxRecordBytes: REAL_BROKERS ? KAFKA_SINK_DEFAULTS.maxRecordBytes : RECORD_LIMIT,
        deliveryTimeoutMs: 2_000,
      });
      let events: Array<{ id: string } & StoredEvent> = [];
      return {
        config,
        async copies(expected) {
          events = (await readTopic(kafka().bootstraps, topic, expected)).map((m) => eventOf(m, mode));
          const copies = new Map<string, number>();
          for (const e of events) copies.set(e.id, (copies.get(e.id) ?? 0) + 1);
          return copies;
        },
        async stored(id) {
          const e = events.find((x) => x.id === id);
          if (!e) throw new Error(`event ${id} was not read from ${topic} (call copies first)`);
          return { subject: e.subject, extensions: e.extensions };
        },
        async poison() {
          return { event: { data: { big: "x".repeat(RECORD_LIMIT) } }, code: "KAFKA_SINK_RECORD_TOO_LARGE" };
        },
        async outage() {
          const mock = kafka().mock!;
          mock.brokerDown(1);
          return async () => mock.brokerUp(1);
        },
        async cleanup() {},
      };
    },
  };
}

describe("sink conformance: Kafka sink, structured mode", () => sinkConformance(kafkaBackend("structured")));
describe("sink conformance: Kafka sink, binary mode", () => sinkConformance(kafkaBackend("binary")));
