/** Schema of `source:` — exactly one of `kafka:` (a real cluster) or `mock:` (librdkafka's in-process mock). */
import { TOPOLOGY_DEFAULTS as D } from "../defaults.ts";
import { arr, bool, duration, int, num, obj, opt, size, str } from "../../config/dsl.ts";
import { checkSubscription, kafkaProperties, SUBSCRIPTION_PATTERN } from "../../config/common.ts";


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

/**
 * Group membership keys, the same for a real cluster and the mock. The session timeout is sized for the
 * supervisor's restart of a crashed worker (backoff 250 ms, then start-up): a slot restarted within it
 * takes its partitions back as the same static member, with no rebalance.
 */
const membership = {
  staticMembership: bool({
    description:
      "Static group membership: each worker slot joins with a `group.instance.id` made of the group, the fleet " +
      "(`$TOPOFLEET_INSTANCE`; by default the host name and the supervisor's pid) and the slot number, so a worker the " +
      "supervisor restarts within `sessionTimeout` takes its partitions back without a rebalance. A worker that stops " +
      "does not leave the group: its partitions move to the others after `sessionTimeout`.",
    default: D.source.staticMembership,
  }),
  sessionTimeout: duration({
    description:
      "How long the group waits for a silent member (crashed, killed, host lost) before moving its partitions to the " +
      "others. Long enough for the supervisor to restart a crashed worker (about 1-3 s); at most 30m, and on a real " +
      "cluster at least its group.min.session.timeout.ms (6s by default).",
    min: 1000,
    default: D.source.sessionTimeoutMs,
  }),
  heartbeatInterval: opt(
    duration({
      description:
        "How often a member heartbeats; at most a third of `sessionTimeout`. A member learns of a rebalance from a " +
        "heartbeat reply and a cooperative hand-over takes two rounds, so this bounds how long moved partitions sit " +
        "unowned when a worker joins or leaves.",
      min: 100,
      dynamicDefault: `\`sessionTimeout\` / 10, at most ${D.source.heartbeatMaxMs}ms`,
    }),
  ),
};

const ratio = (what: string) =>
  num({ description: `Share of ${what}, 0..1.`, min: 0, max: 1, default: 0 });

/** The built-in CloudEvents generator that feeds a mock source. */
export const generatorSchema = obj({
  description: "Built-in CloudEvents generator producing into the mock cluster (demo, tests).",
  fields: {
    rate: num({
      description:
        "Events per second at most: the generator also waits while what it produced and the fleet has not committed would outgrow what the mock partitions keep, so it runs at the pipeline's pace.",
      exclusiveMin: 0,
      default: D.source.generator.rate,
    }),
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
    ...membership,
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
    ...membership,
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
