/** Schema of the `stages:` list: each item is a single-key map `enrich:`, `dedupe:`, `limit:`, `persist:` or `custom:`. */
import { TOPOLOGY_DEFAULTS as D, DEFAULT_COLUMNS } from "../defaults.ts";
import { any, arr, bool, duration, int, map, num, obj, opt, size, str, tagged } from "../../config/dsl.ts";
import { ATTRIBUTE_PATTERN, IDENTIFIER_PATTERN, POSTGRES_URL_PATTERN, STAGE_NAME_PATTERN, stageName } from "../../config/common.ts";

const attribute = (description: string) =>
  str({ description, pattern: ATTRIBUTE_PATTERN, patternHint: "a CloudEvents attribute name (lowercase a-z, 0-9)" });

const lookupName = str({
  description: "Lookup name (logs, metrics).",
  optional: true,
  pattern: STAGE_NAME_PATTERN,
  patternHint: "letters, digits, `_`, `.` or `-`",
  dynamicDefault: "the `into` extension name",
});

const fileLookup = obj({
  description: "A static lookup table from a JSON file: an object mapping key values to the value to write.",
  fields: {
    name: lookupName,
    path: str({ description: "JSON file path, relative to the topology file.", minLength: 1 }),
    key: attribute("Event attribute or extension whose value is looked up, e.g. `tenantid`."),
    into: attribute("Extension attribute that receives the found value."),
  },
});

const postgresLookup = obj({
  description: "A lookup table loaded from PostgreSQL with a query returning (key, value) rows, refreshed periodically.",
  fields: {
    name: lookupName,
    url: str({
      description: "PostgreSQL URL. Put the password in the environment: `${LOOKUP_DATABASE_URL}`.",
      pattern: POSTGRES_URL_PATTERN,
      patternHint: "a postgres:// or postgresql:// URL",
    }),
    query: str({ description: "SQL returning two columns: the key and the value.", minLength: 1 }),
    key: attribute("Event attribute or extension whose value is looked up."),
    into: attribute("Extension attribute that receives the found value."),
    refresh: duration({ description: "Reload period.", exclusiveMin: 0, default: D.lookup.refreshMs }),
  },
});

const enrich = obj({
  description: "Validates CloudEvents and enriches them in a thread pool.",
  default: {},
  fields: {
    name: stageName("enrich"),
    threads: opt(
      int({
        description: "Enrich threads per worker process.",
        min: 1,
        max: 256,
        dynamicDefault: "max(1, cores - 1)",
      }),
    ),
    ingestTimestamp: bool({ description: "Add the `ingestedat` extension / `ingested_at` column.", default: D.enrich.ingestTimestamp }),
    tenantFromSource: bool({
      description: "Derive the tenant from the source path's first segment when `tenantid` is absent.",
      default: D.enrich.tenantFromSource,
    }),
    maxEventBytes: size({
      description: "Events larger than this are dead-lettered (CE_TOO_LARGE).",
      exclusiveMin: 0,
      default: D.enrich.maxEventBytes,
    }),
    maxAttributes: int({
      description: "Events with more attributes (context attributes and extensions) are dead-lettered (CE_TOO_MANY_ATTRIBUTES).",
      min: 4,
      max: 100_000,
      default: D.enrich.maxAttributes,
    }),
    sliceTimeout: duration({
      description: "Deadline of one slice of a batch in an enrich thread; a thread past it is replaced and its events isolated (ENRICH_TIMEOUT).",
      exclusiveMin: 0,
      default: D.enrich.sliceTimeoutMs,
    }),
    lookups: arr({
      description: "Lookup tables joined into events, in order.",
      default: [],
      items: tagged({
        description: "One lookup: `file:` or `postgres:`.",
        noun: "lookup kind",
        variants: { file: fileLookup, postgres: postgresLookup },
      }),
    }),
    module: opt(str({ description: "A user enrich module (path relative to the topology file).", minLength: 1 })),
  },
});

/** A Redis URL field (dedupe, limit): same pattern and advice everywhere, its own default. */
function redisUrl(def: string) {
  return str({
    description: "Redis URL (`rediss://` for TLS). Put a password in the environment: `${REDIS_URL}`.",
    pattern: "^rediss?://.+",
    patternHint: "a redis:// or rediss:// URL",
    default: def,
  });
}

const dedupe = obj({
  description: "Drops duplicate events with a windowed Bloom filter; \"maybe seen\" answers are verified in PostgreSQL.",
  default: {},
  fields: {
    name: stageName("dedupe"),
    backend: str({
      description: "`redis` (shared by all replicas) or `memory` (one process only: demo, tests).",
      enum: ["redis", "memory"],
      default: D.dedupe.backend,
    }),
    redis: obj({
      description: "Redis connection for the `redis` backend.",
      default: {},
      fields: {
        url: redisUrl(D.dedupe.redisUrl),
        mode: str({
          description: "`auto` uses BF.* when the server has it, else the portable BITFIELD filter; `bloom`/`bitmap` force one.",
          enum: ["auto", "bloom", "bitmap"],
          default: D.dedupe.redisMode,
        }),
        bloom: obj({
          description: "Growth policy of BF.* filters past `expectedPerWindow` (RedisBloom scales by adding sub-filters).",
          default: {},
          fields: {
            expansion: int({
              description: "BF.INSERT EXPANSION: each new sub-filter is this many times larger than the last.",
              min: 1,
              max: 32,
              default: D.dedupe.bloom.expansion,
            }),
            nonScaling: bool({
              description: "BF.INSERT NONSCALING: never add sub-filters; keys past capacity are not added (see `maxFilters` for how they are answered).",
              default: D.dedupe.bloom.nonScaling,
            }),
            maxFilters: int({
              description: "At most this many sub-filters per filter; past them keys are not added (memory stays bounded) and answer \"maybe seen\" (verified in PostgreSQL) with `onMaybeSeen: verify`, \"new\" with `drop`.",
              min: 1,
              max: 16,
              default: D.dedupe.bloom.maxFilters,
            }),
          },
        }),
      },
    }),
    prefix: opt(str({ description: "Key prefix of the filters in Redis.", minLength: 1, dynamicDefault: "`tf:<name>`" })),
    key: arr({
      description: "CloudEvents attributes forming an event's identity.",
      minItems: 1,
      uniqueItems: true,
      default: D.dedupe.keyFields,
      items: attribute("A CloudEvents attribute name."),
    }),
    expectedPerWindow: int({
      description: "Expected distinct events per window; sizes the filter.",
      min: 1,
      default: D.dedupe.expectedPerWindow,
    }),
    falsePositiveRate: num({
      description: "Wanted false-positive rate of the filter, in (0, 1).",
      exclusiveMin: 0,
      exclusiveMax: 1,
      default: D.dedupe.falsePositiveRate,
    }),
    window: duration({
      description: "Filter rotation period; the current and the previous window are checked.",
      exclusiveMin: 0,
      default: D.dedupe.windowMs,
    }),
    perTenant: bool({
      description: "Filters per tenant (hash-tagged keys for Redis Cluster): tenants are spread over `tenantFilters` filters that share `expectedPerWindow`.",
      default: D.dedupe.perTenant,
    }),
    tenantFilters: int({
      description: "With `perTenant`: the number of filters tenants are hashed onto (tenant ids are untrusted input: memory must not grow with them).",
      min: 1,
      max: 1024,
      default: D.dedupe.tenantFilters,
    }),
    onMaybeSeen: str({
      description: "`verify` checks \"maybe seen\" events in PostgreSQL (exact); `drop` trusts the filter and loses real events at the false-positive rate.",
      enum: ["verify", "drop"],
      default: D.dedupe.onMaybeSeen,
    }),
    onRedisDown: str({
      description: "`fail` pauses and retries; `passthrough` lets events through (PostgreSQL's unique key keeps the result exact).",
      enum: ["fail", "passthrough"],
      default: D.dedupe.onRedisDown,
    }),
  },
});

/** One tenant's limit: `rate` events per `per`, a `burst`, an optional `quota` per `quotaWindow`. */
const tenantLimit = (description: string, withDefaults: boolean) =>
  obj({
    description,
    ...(withDefaults ? { default: {} } : {}),
    fields: {
      rate: int({ description: "Events admitted per `per` on average (GCRA, shared by every worker of the fleet).", min: 1, ...(withDefaults ? { default: 1000 } : {}) }),
      per: duration({ description: "Period of `rate`.", exclusiveMin: 0, default: D.limit.per }),
      burst: opt(int({ description: "Events a tenant may send at once above its average rate.", min: 1, dynamicDefault: "`rate`" })),
      quota: opt(int({ description: "At most this many events per `quotaWindow` (windows aligned to the epoch: UTC days by default).", min: 1 })),
      quotaWindow: duration({ description: "Window of `quota`.", exclusiveMin: 0, default: D.limit.quotaWindowMs }),
    },
  });

const limit = obj({
  description:
    "Per-tenant rate limits and quotas, enforced across the fleet in Redis with one script call per batch. Needs an `enrich` stage before it (the tenant comes from `tenantid`).",
  default: {},
  fields: {
    name: stageName("limit"),
    redis: obj({
      description: "Redis connection holding the per-tenant state.",
      default: {},
      fields: {
        url: redisUrl(D.limit.redisUrl),
      },
    }),
    prefix: opt(str({ description: "Key prefix of the per-tenant state in Redis.", minLength: 1, dynamicDefault: "`tf:<name>:limit`" })),
    default: tenantLimit("The limit of every tenant without an override; events without a tenant share the limit of tenant `-`.", true),
    tenants: map({
      description: "Per-tenant overrides: tenant id -> limit.",
      default: {},
      values: tenantLimit("One tenant's limit.", false),
    }),
    tenantsQuery: opt(
      obj({
        description: "Overrides from PostgreSQL: a query returning (tenant id, events per `default.per`), reloaded every `refresh` (a failed reload keeps the last table).",
        fields: {
          url: str({
            description: "PostgreSQL URL. Put the password in the environment: `${LIMITS_DATABASE_URL}`.",
            pattern: POSTGRES_URL_PATTERN,
            patternHint: "a postgres:// or postgresql:// URL",
          }),
          query: str({ description: "SQL returning two columns: the tenant id and its rate.", minLength: 1 }),
          refresh: duration({ description: "Reload period.", exclusiveMin: 0, default: D.lookup.refreshMs }),
        },
      }),
    ),
    tenantsFile: opt(str({ description: "JSON file of overrides, tenant id -> events per `default.per` (read at start; path relative to the topology file).", minLength: 1 })),
    onLimit: str({
      description:
        "`delay` holds a tenant's events over its rate until their turn (the others keep moving; offsets commit in order), `dead-letter` rejects them (TENANT_RATE_LIMITED / TENANT_QUOTA_EXCEEDED), `pass` lets them through and counts them.",
      enum: ["delay", "dead-letter", "pass"],
      default: D.limit.onLimit,
    }),
    maxDelay: duration({
      description: "`delay`: an event that would wait longer is dead-lettered (TENANT_DELAY_TOO_LONG); over-quota events are always dead-lettered under `delay`.",
      exclusiveMin: 0,
      default: D.limit.maxDelayMs,
    }),
    maxHeldEvents: int({ description: "`delay`: past this many held events a worker stops consuming until some are released.", min: 1, default: D.limit.maxHeldEvents }),
    maxHeldBatches: int({ description: "`delay`: past this many batches waiting for held events a worker stops consuming.", min: 1, max: 4096, default: D.limit.maxHeldBatches }),
    onRedisDown: str({
      description: "`fail` pauses and retries; `passthrough` admits every event unlimited while Redis is unreachable (counted).",
      enum: ["fail", "passthrough"],
      default: D.limit.onRedisDown,
    }),
    metricsTopTenants: int({ description: "Tenants named in the metrics (the busiest seen); the others are counted as `other`.", min: 0, max: 1000, default: D.limit.metricsTopTenants }),
  },
});

const column = obj({
  description: "One column of the target table and the event attribute written into it.",
  fields: {
    column: str({ description: "Column name.", pattern: IDENTIFIER_PATTERN, patternHint: "a SQL identifier (letters, digits, `_`)" }),
    from: str({
      description: "Event attribute written into the column.",
      enum: ["id", "source", "type", "subject", "time", "tenant", "data", "extensions", "ingested_at", "kafka_partition", "kafka_offset"],
    }),
  },
});

const persist = obj({
  description: "Writes events to PostgreSQL (insert-or-ignore on the event identity); offsets commit only after this.",
  fields: {
    name: stageName("persist"),
    url: str({
      description: "PostgreSQL URL, or `embedded` for PGlite under the data dir. Put the password in the environment: `${DATABASE_URL}`.",
      pattern: "^(embedded|postgres(ql)?://.+)$",
      patternHint: "`embedded` or a postgres:// / postgresql:// URL",
    }),
    schema: str({ description: "Schema of the table.", pattern: IDENTIFIER_PATTERN, patternHint: "a SQL identifier", default: D.persist.schema }),
    table: str({ description: "Table name.", pattern: IDENTIFIER_PATTERN, patternHint: "a SQL identifier", default: D.persist.table }),
    connections: int({ description: "Connections per worker process.", min: 1, max: 64, default: D.persist.connections }),
    manageSchema: bool({
      description: "Create and maintain the daily-partitioned table; `false` when you own the table (we only insert).",
      default: D.persist.manageSchema,
    }),
    partitionsAheadDays: int({ description: "Daily partitions created ahead of today.", min: 0, max: 366, default: D.persist.partitionsAheadDays }),
    retentionDays: int({ description: "Partitions entirely older than this are dropped.", min: 1, default: D.persist.retentionDays }),
    maintenanceInterval: duration({
      description: "How often partitions are created ahead and expired.",
      exclusiveMin: 0,
      default: D.persist.maintenanceIntervalMs,
    }),
    ginIndexOnData: bool({ description: "Add a GIN index on `data`.", default: D.persist.ginIndexOnData }),
    columns: arr({
      description: "Column mapping for a table of your own; by default each attribute goes to the column of the same name.",
      minItems: 1,
      default: DEFAULT_COLUMNS,
      defaultSummary: "every attribute into the column of the same name (id, source, type, subject, time, tenant, data, extensions, ingested_at, kafka_partition, kafka_offset)",
      items: column,
    }),
    method: str({
      description: "`copy` (COPY into a staging table, then insert-or-ignore) or `unnest` (INSERT ... SELECT FROM unnest).",
      enum: ["copy", "unnest"],
      default: D.persist.method,
    }),
  },
});

const custom = obj({
  description: "A stage of your own: a module whose default export is a StageFactory (or a Stage).",
  fields: {
    name: opt(
      str({
        description: "Stage name, unique in the pipeline.",
        pattern: STAGE_NAME_PATTERN,
        patternHint: "letters, digits, `_`, `.` or `-`",
        dynamicDefault: "the module's file name without extension",
      }),
    ),
    module: str({ description: "Module path, relative to the topology file.", minLength: 1 }),
    options: map({
      description: "Passed to the module's factory as is (after `${VAR}` interpolation).",
      default: {},
      values: any({ description: "Any YAML value." }),
    }),
  },
});

/** `stages:`, in processing order. */
export const stagesSchema = arr({
  description: "Pipeline stages in processing order; each item is a single-key map.",
  minItems: 1,
  items: tagged({
    description: "One stage: `enrich:`, `dedupe:`, `limit:`, `persist:` or `custom:`.",
    noun: "stage kind",
    variants: { enrich, dedupe, limit, persist, custom },
  }),
});
