/** Schema of `source:` — exactly one of `kafka:` (a real cluster) or `mock:` (librdkafka's in-process mock). */
import { TOPOLOGY_DEFAULTS as D } from "../defaults.ts";
import { arr, int, num, obj, opt, size, str } from "./dsl.ts";
import { checkSubscription, kafkaProperties, SUBSCRIPTION_PATTERN } from "./common.ts";

const topics = (dflt?: string[]) =>
  arr({
    description: "Topics to consume: names, or `^regex` subscriptions (librdkafka regex syntax).",
    minItems: 1,
    uniqueItems: true,
    ...(dflt ? { default: dflt } : {}),
    items: str({
      description: "A topic name or a `^regex` subscription.",
      pattern: SUBSCRIPTION_PATTERN,
      patternHint: "a Kafka topic name (letters, digits, `.`, `_`, `-`) or a regex starting with `^`",
      check: checkSubscription,
    }),
  });

const group = str({
  description: "Consumer group id. Every replica joins this group; offsets are committed only after rows are durable.",
  optional: true,
  minLength: 1,
  dynamicDefault: "`topofleet-<name>`",
});

const start = str({
  description: "Where a new consumer group starts: `earliest` (no loss, the default) or `latest`.",
  enum: ["earliest", "latest"],
  default: D.source.start,
});

const ratio = (what: string) =>
  num({ description: `Share of ${what}, 0..1.`, min: 0, max: 1, default: 0 });

/** The built-in CloudEvents generator that feeds a mock source. */
export const generatorSchema = obj({
  description: "Built-in CloudEvents generator producing into the mock cluster (demo, tests).",
  fields: {
    rate: num({ description: "Events per second.", exclusiveMin: 0, default: D.source.generator.rate }),
    events: opt(int({ description: "Stop after this many events; absent = run until stopped.", min: 1 })),
    tenants: int({ description: "Number of distinct tenants (`tenantid`).", min: 1, default: D.source.generator.tenants }),
    duplicateRatio: ratio("events re-sent as duplicates (same source and id)"),
    invalidRatio: ratio("invalid events (they must reach the dead-letter topic)"),
    binaryRatio: ratio("events sent in CloudEvents binary mode (ce_* headers) instead of structured JSON"),
    payloadBytes: size({ description: "Approximate size of each event's `data`.", min: 0, default: D.source.generator.payloadBytes }),
  },
});

/** `source.kafka`: a real Kafka cluster. */
export const kafkaSourceSchema = obj({
  description: "A real Kafka cluster.",
  fields: {
    brokers: str({ description: "Bootstrap servers, comma-separated `host:port` list.", minLength: 1 }),
    topics: topics(),
    group,
    start,
    properties: kafkaProperties,
  },
  misplaced: {
    generator: "a generator only feeds the in-process mock cluster: use `source.mock` with `generator:`",
    partitions: "a real cluster's partition count is set when the topic is created, not in the topology",
  },
});

/** `source.mock`: librdkafka's in-process mock cluster. */
export const mockSourceSchema = obj({
  description: "librdkafka's in-process mock cluster (no broker needed), optionally fed by the built-in generator.",
  fields: {
    brokers: int({ description: "Number of mock brokers.", min: 1, max: 16, default: D.source.mock.brokers }),
    partitions: int({
      description: "Partitions per topic. Each mock partition keeps at most 100,000 messages or 5 MB.",
      min: 1,
      max: 1024,
      default: D.source.mock.partitions,
    }),
    topics: topics(D.source.mock.topics),
    group,
    start,
    properties: kafkaProperties,
    generator: opt(generatorSchema),
  },
});

/** `source:`: exactly one kind. */
export const sourceSchema = obj({
  description: "Where events come from: exactly one of `kafka` or `mock`.",
  exactlyOne: "`kafka:` (a real cluster) or `mock:` (in-process mock cluster)",
  fields: {
    kafka: opt(kafkaSourceSchema),
    mock: opt(mockSourceSchema),
  },
});
