/** The enrich stage's spec: schema, defaults, resolver, rules, explain and capacity lines (see ../spec.ts). */
import { attributeField, DEFAULT_MAX_EVENT_BYTES, DEFAULT_RELOAD_MS, postgresUrlField, STAGE_NAME_PATTERN, stageName } from "../../config/common.ts";
import { arr, bool, duration, type Infer, int, obj, opt, size, str, tagged } from "../../config/dsl.ts";
import { joinIndex } from "../../config/diagnostics.ts";
import { formatCount } from "../../config/units.ts";
import { defineStage, type ErrorCodeInfo, type StageItemView } from "../spec.ts";
import type { EnrichErrorCode } from "../../errors/index.ts";
import type { Diagnostics } from "../../config/diagnostics.ts";
import { EnrichRejectCode } from "./codes.ts";
import { RESERVED_TARGETS, type EnrichStageConfig, type LookupConfig } from "./config.ts";

/** Static defaults of the enrich stage (ms, bytes). */
export const ENRICH_DEFAULTS = {
  ingestTimestamp: true,
  tenantFromSource: false,
  maxEventBytes: DEFAULT_MAX_EVENT_BYTES,
  maxAttributes: 256,
  sliceTimeoutMs: 30_000,
  lookupRefreshMs: DEFAULT_RELOAD_MS,
};

/** Design target of one enrich thread (not a NOTES measurement). */
const EVENTS_PER_THREAD = 150_000;

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
    key: attributeField("Event attribute or extension whose value is looked up, e.g. `tenantid`."),
    into: attributeField("Extension attribute that receives the found value."),
  },
});

const postgresLookup = obj({
  description: "A lookup table loaded from PostgreSQL with a query returning (key, value) rows, refreshed periodically.",
  fields: {
    name: lookupName,
    url: postgresUrlField("LOOKUP_DATABASE_URL"),
    query: str({ description: "SQL returning two columns: the key and the value.", minLength: 1 }),
    key: attributeField("Event attribute or extension whose value is looked up."),
    into: attributeField("Extension attribute that receives the found value."),
    refresh: duration({ description: "Reload period.", exclusiveMin: 0, default: ENRICH_DEFAULTS.lookupRefreshMs }),
  },
});

const schema = obj({
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
    ingestTimestamp: bool({ description: "Add the `ingestedat` extension / `ingested_at` column.", default: ENRICH_DEFAULTS.ingestTimestamp }),
    tenantFromSource: bool({
      description: "Derive the tenant from the source path's first segment when `tenantid` is absent.",
      default: ENRICH_DEFAULTS.tenantFromSource,
    }),
    maxEventBytes: size({
      description: "Events larger than this are dead-lettered (CE_TOO_LARGE).",
      exclusiveMin: 0,
      default: ENRICH_DEFAULTS.maxEventBytes,
    }),
    maxAttributes: int({
      description: "Events with more attributes (context attributes and extensions) are dead-lettered (CE_TOO_MANY_ATTRIBUTES).",
      min: 4,
      max: 100_000,
      default: ENRICH_DEFAULTS.maxAttributes,
    }),
    sliceTimeout: duration({
      description: "Deadline of one slice of a batch in an enrich thread; a thread past it is replaced and its events isolated (ENRICH_TIMEOUT).",
      exclusiveMin: 0,
      default: ENRICH_DEFAULTS.sliceTimeoutMs,
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

type Lookup = { kind?: string; value?: { name?: string; into?: string } } | undefined;

/** Lookup names are unique; a lookup writes an extension attribute, never a context attribute. */
function checkLookups(self: StageItemView<{ lookups?: Lookup[] }>, diag: Diagnostics): void {
  const path = `${self.path}.lookups`;
  const names = new Map<string, number>();
  (self.value?.lookups ?? []).forEach((l, i) => {
    const name = l?.value?.name ?? l?.value?.into;
    if (!name) return;
    const into = l?.value?.into;
    const at = `${joinIndex(path, i)}.${l!.kind}`;
    if (into && RESERVED_TARGETS.has(into)) diag.add(`${at}.into`, `\`${into}\` is a CloudEvents context attribute; a lookup writes an extension attribute (e.g. \`${into}info\`)`);
    const prev = names.get(name);
    if (prev !== undefined) diag.add(`${at}.name`, `lookup name \`${name}\` is already used by ${path}[${prev}]`);
    else names.set(name, i);
  });
}

/** Whole-batch errors (EnrichError). */
const ERRORS: Record<EnrichErrorCode, ErrorCodeInfo> = {
  ENRICH_POOL_FAILED: { retriable: "depends", description: "A thread failed on a batch: retried (the batch is isolated slice by slice) unless the stage is not running." },
  ENRICH_MODULE_FAILED: { retriable: false, description: "The user enrich module failed to load or to initialise." },
  ENRICH_LOOKUP_UNAVAILABLE: { retriable: "depends", description: "A lookup table could not be loaded: retried for PostgreSQL at start, fatal for a bad JSON file." },
  ENRICH_QUEUE_FULL: { retriable: true, description: "The thread pool's task queue is full." },
  ENRICH_SLICE_TIMEOUT: { retriable: true, description: "A slice took longer than `sliceTimeout`; its thread was replaced and the slice is isolated." },
};

/** The enrich stage. */
export const enrichSpec = defineStage<"enrich", Infer<typeof schema>, EnrichStageConfig>({
  kind: "enrich",
  schema,
  example: {},
  resolve(v, ctx) {
    return {
      kind: "enrich",
      name: v.name,
      threads: v.threads ?? Math.max(1, ctx.cores - 1),
      ingestTimestamp: v.ingestTimestamp,
      tenantFromSource: v.tenantFromSource,
      maxEventBytes: v.maxEventBytes,
      maxAttributes: v.maxAttributes,
      sliceTimeoutMs: v.sliceTimeout,
      lookups: v.lookups.map((l, j): LookupConfig => {
        const lp = `${joinIndex(`${ctx.path}.lookups`, j)}.${l.kind}`;
        if (l.kind === "file") {
          const x = l.value;
          return { kind: "file", name: x.name ?? x.into, path: ctx.ref(`${lp}.path`, x.path), key: x.key, into: x.into };
        }
        const x = l.value;
        return { kind: "postgres", name: x.name ?? x.into, url: x.url, query: x.query, key: x.key, into: x.into, refreshMs: x.refresh };
      }),
      module: v.module === undefined ? null : ctx.ref(`${ctx.path}.module`, v.module, { module: true }),
    };
  },
  rules: { atMostOne: true, check: (self, _pipeline, diag) => checkLookups(self as StageItemView<{ lookups?: Lookup[] }>, diag) },
  explain(cfg, fleet) {
    // Each worker also needs its main thread for Kafka, Redis and PostgreSQL I/O.
    const perWorker = cfg.threads + 1;
    const busy = perWorker * fleet.activeReplicas;
    const verdict = busy > fleet.cores ? `WARNING: oversubscribed (${busy} busy threads for ${fleet.cores} cores); lower threads or replicas` : "fits";
    return [`Enrich: ${cfg.threads} thread(s) per worker + 1 main thread = ${perWorker} per worker; ${fleet.cores} core(s) on this machine: ${verdict}.`];
  },
  capacity(cfg, fleet) {
    const wanted = cfg.threads * fleet.activeReplicas;
    const threads = Math.min(wanted, fleet.cores);
    return {
      stage: cfg.name,
      eventsPerSec: EVENTS_PER_THREAD * threads,
      basis: `~${formatCount(EVENTS_PER_THREAD)}/s per thread (the enrich stage's design target) x ${threads} busy thread(s)${wanted > threads ? ` (capped at ${fleet.cores} core(s))` : ""}`,
    };
  },
  async create(cfg) {
    return (await import("./index.ts")).createEnrichStage(cfg);
  },
  errors: ERRORS,
  rejections: {
    [EnrichRejectCode.NullValue]: "A structured-mode record with a null value (a tombstone).",
    [EnrichRejectCode.TooLarge]: "The value is larger than `maxEventBytes`.",
    [EnrichRejectCode.BadJson]: "The value is not UTF-8 JSON text.",
    [EnrichRejectCode.NotObject]: "The value is JSON but not an object.",
    [EnrichRejectCode.MissingAttribute]: "A required attribute (specversion, id, source, type) is absent or null.",
    [EnrichRejectCode.BadSpecversion]: "specversion is not \"1.0\".",
    [EnrichRejectCode.BadAttributeType]: "An attribute has a JSON type outside the CloudEvents type system for it.",
    [EnrichRejectCode.BadAttributeValue]: "An attribute has an invalid value (empty, source not a URI-reference, U+0000).",
    [EnrichRejectCode.BadTime]: "`time` is not a valid RFC 3339 timestamp in 0001..9999 UTC.",
    [EnrichRejectCode.BadExtensionName]: "An attribute name breaks the naming rule (lowercase a-z, 0-9).",
    [EnrichRejectCode.BadData]: "The data is unusable (data and data_base64 together, bad base64, binary JSON that does not parse, U+0000 in jsonb).",
    [EnrichRejectCode.TooManyAttributes]: "More attributes than `maxAttributes`.",
    [EnrichRejectCode.DataTooDeep]: "`data` nests deeper than PostgreSQL's jsonb parser takes.",
    [EnrichRejectCode.KeyTooLarge]: "`source` + `id` (or the tenant) exceed what the table's btree index holds.",
    [EnrichRejectCode.TimeTooOld]: "The event time is older than the persist stage's retention.",
    [EnrichRejectCode.TimeTooFarAhead]: "The event time is further ahead than the persist stage makes day partitions.",
    [EnrichRejectCode.UnsupportedFormat]: "A structured-mode record in an event format other than JSON.",
    [EnrichRejectCode.UserModuleThrew]: "The user enrich module threw for this event.",
    [EnrichRejectCode.UserModuleRejected]: "The user enrich module returned null or an Error for this event.",
    [EnrichRejectCode.ThreadCrashed]: "An enrich thread died each time it processed this event alone.",
    [EnrichRejectCode.Timeout]: "Processing this event alone took longer than `sliceTimeout` each time.",
  } satisfies Record<EnrichRejectCode, string>,
  referencedFiles(cfg) {
    const files = cfg.lookups.flatMap((l) => (l.kind === "file" ? [l.path] : []));
    return cfg.module ? [...files, cfg.module] : files;
  },
  maxEventBytes: (cfg) => cfg.maxEventBytes,
  userModules: (cfg) => (cfg.module ? [{ path: cfg.module, contract: "enrich" }] : []),
});
