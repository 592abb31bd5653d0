/** Schema of a whole topology file: the root descriptor everything else is generated from. */
import { TOPOLOGY_DEFAULTS as D } from "../defaults.ts";
import { duration, either, int, map, num, obj, opt, size, str, type Infer } from "../../config/dsl.ts";
import { TOPIC_PATTERN } from "../../config/common.ts";
import { JITTERS } from "../../timing/backoff.ts";
import { sourceSchema } from "./source.ts";
import { stagesSchema } from "./stages.ts";

const replicasRange = obj({
  description: "Autoscaled replicas: the supervisor, systemd and KEDA keep lag per replica near `lagPerReplica`.",
  fields: {
    min: int({ description: "Fewest worker processes.", min: 1, default: D.concurrency.replicas }),
    max: int({ description: "Most worker processes (never useful above the partition count).", min: 1, default: D.concurrency.replicas }),
    lagPerReplica: int({
      description: "Consumer lag one replica should carry; more lag adds replicas (KEDA `lagThreshold`).",
      min: 0,
      default: D.concurrency.lagPerReplica,
    }),
  },
});

/** The root descriptor of a topology file. */
export const topologySchema = obj({
  description: "A topofleet topology: one pipeline from a Kafka source through stages into PostgreSQL.",
  fields: {
    name: str({
      description: "Pipeline name: lowercase letters, digits and `-` (used in unit names, Redis prefixes, data dir).",
      pattern: "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
      patternHint: "lowercase letters, digits and `-`, at most 63 characters, starting and ending with a letter or digit",
    }),
    source: sourceSchema,
    stages: stagesSchema,
    deadLetter: obj({
      description: "Where invalid or rejected events go, with the reason in headers.",
      default: {},
      fields: {
        topic: opt(
          str({
            description: "Dead-letter topic; must differ from the source topics.",
            pattern: TOPIC_PATTERN,
            patternHint: "a Kafka topic name (letters, digits, `.`, `_`, `-`)",
            dynamicDefault: "`<first source topic>.dlq`",
          }),
        ),
      },
    }),
    batch: obj({
      description: "How many consumed records form one batch; a batch closes at whichever limit comes first.",
      default: {},
      fields: {
        maxEvents: int({ description: "Most events per batch.", min: 1, default: D.batch.maxEvents }),
        maxBytes: size({ description: "Most value bytes per batch.", exclusiveMin: 0, default: D.batch.maxBytes }),
        maxWait: duration({ description: "Longest a partial batch waits for more events.", exclusiveMin: 0, default: D.batch.maxWaitMs }),
      },
    }),
    concurrency: obj({
      description: "Worker processes and batches in flight.",
      default: {},
      fields: {
        replicas: either({
          description: "Worker processes: a fixed number, or `{min, max, lagPerReplica}` to autoscale on consumer lag.",
          default: D.concurrency.replicas,
          scalar: int({ description: "A fixed number of worker processes.", min: 1 }),
          object: replicasRange,
        }),
        inFlightBatches: int({
          description: "Batches a worker processes concurrently (pipelining); offsets still commit in order.",
          min: 1,
          max: 64,
          default: D.concurrency.inFlightBatches,
        }),
      },
    }),
    http: obj({
      description: "Metrics and health endpoints (`/metrics`, `/healthz`, `/readyz`).",
      default: {},
      fields: {
        port: int({ description: "TCP port.", min: 0, max: 65535, default: D.http.port, note: "0 disables the HTTP server" }),
        host: str({ description: "Listen address.", minLength: 1, default: D.http.host }),
      },
    }),
    log: obj({
      description: "Logging (pino JSON on stderr).",
      default: {},
      fields: {
        level: str({
          description: "Log level.",
          enum: ["trace", "debug", "info", "warn", "error", "fatal"],
          default: D.log.level,
        }),
      },
    }),
    tracing: obj({
      description: "OpenTelemetry traces of batches (a span per batch and stage, linked to producers' `traceparent`), sent over OTLP/HTTP. Off unless `endpoint` is set.",
      default: {},
      fields: {
        endpoint: opt(
          str({
            description: "OTLP/HTTP traces URL, e.g. `http://otel-collector:4318/v1/traces`. Unset: tracing off (the SDK is not loaded).",
            pattern: "^https?://.+",
            patternHint: "an http:// or https:// URL",
          }),
        ),
        sampling: num({ description: "Share of batches traced, from 0 to 1 (e.g. 0.01).", min: 0, max: 1, default: D.tracing.sampling }),
        serviceName: opt(str({ description: "`service.name` of the spans.", minLength: 1, dynamicDefault: "`topofleet-<name>`" })),
        headers: map({
          description: "Extra HTTP headers of the export requests (e.g. an API key: `${OTLP_TOKEN}`).",
          default: {},
          values: str({ description: "A header value.", coerce: true }),
        }),
        maxQueueSpans: int({ description: "Spans waiting for export; past it new spans are dropped and counted (the pipeline never waits).", min: 1, default: D.tracing.maxQueueSpans }),
        exportTimeout: duration({ description: "Timeout of one export request.", exclusiveMin: 0, default: D.tracing.exportTimeoutMs }),
        maxLinksPerBatch: int({ description: "Links to producers' traces per batch span (the first ones); past it `topofleet.links.truncated` is true.", min: 0, max: 10_000, default: D.tracing.maxLinksPerBatch }),
      },
    }),
    retry: obj({
      description:
        "How a worker retries a stage or the dead-letter producer that failed with a retriable error (forever: a batch is never skipped), and how long commits wait out a consumer-group rebalance.",
      default: {},
      fields: {
        initial: duration({ description: "Delay ceiling of the first retry.", exclusiveMin: 0, default: D.retry.backoff.initialMs }),
        max: duration({ description: "No retry waits longer.", exclusiveMin: 0, default: D.retry.backoff.maxMs }),
        multiplier: num({ description: "Growth of the delay ceiling per retry.", min: 1, max: 10, default: D.retry.backoff.multiplier }),
        jitter: str({
          description:
            "Randomisation of each delay below its ceiling d: `none` (exactly d), `equal` (between d/2 and d), `full` (between 0 and d), `decorrelated` (between `initial` and the previous delay times `multiplier`).",
          enum: JITTERS,
          default: D.retry.backoff.jitter,
        }),
        commit: obj({
          description: "Commits during a rebalance.",
          default: {},
          fields: {
            rebalanceRetry: duration({
              description: "How long a sync commit (revocation, shutdown) retries while a rebalance refuses it; what stays uncommitted is re-processed by the next owner and deduplicated.",
              exclusiveMin: 0,
              default: D.retry.commit.rebalanceRetryMs,
            }),
            holdMax: duration({
              description: "Longest async commits are held back while the group rebalances (a safety net if the end of the rebalance is never reported).",
              exclusiveMin: 0,
              default: D.retry.commit.holdMaxMs,
            }),
          },
        }),
      },
    }),
    shutdown: obj({
      description: "Graceful shutdown on SIGTERM / SIGINT.",
      default: {},
      fields: {
        deadline: duration({
          description: "Time to finish in-flight batches and commit before workers are killed.",
          exclusiveMin: 0,
          default: D.shutdown.deadlineMs,
        }),
      },
    }),
  },
});

/** A topology file after validation: the user-facing shape with static defaults filled, not yet resolved. */
export type TopologyFile = Infer<typeof topologySchema>;
