/** The persist stage's spec: schema, defaults, resolver, rules, explain and capacity lines (see ../spec.ts). */
import { IDENTIFIER_PATTERN, stageName } from "../../config/common.ts";
import { arr, bool, duration, type Infer, int, obj, str } from "../../config/dsl.ts";
import { joinIndex } from "../../config/diagnostics.ts";
import { formatCount } from "../../config/units.ts";
import { ConfigError, type PersistErrorCode } from "../../errors/index.ts";
import { defineStage, type ErrorCodeInfo, type StageCeiling } from "../spec.ts";
import { COLUMN_SOURCES, DEFAULT_COLUMNS, EMBEDDED_URL, type PersistStageConfig } from "./config.ts";
import { persistEnrichNeeds } from "./needs.ts";

/** Static defaults of the persist stage (ms). */
export const PERSIST_DEFAULTS = {
  schema: "public",
  table: "events",
  connections: 4,
  manageSchema: true,
  partitionsAheadDays: 3,
  retentionDays: 90,
  maintenanceIntervalMs: 10 * 60_000,
  ginIndexOnData: false,
  method: "copy" as const,
};

const D = PERSIST_DEFAULTS;

/** Rows per second measured on a 2-core box (shared/NOTES.md). */
const ROWS_PER_SEC = {
  copyOneConn: 78_000, // COPY to staging + INSERT ... ON CONFLICT, 1 connection
  copyFourConns: 119_000, // ... 4 connections (PostgreSQL-bound beyond)
  unnestOneConn: 56_000,
  unnestFourConns: 85_000,
  embedded: 96_000, // PGlite over the socket server, unnest into a simple table
} as const;

const column = obj({
  description: "One column of the target table and the event attribute written into it.",
  fields: {
    column: str({ description: "Column name.", pattern: IDENTIFIER_PATTERN, patternHint: "a SQL identifier (letters, digits, `_`)" }),
    from: str({ description: "Event attribute written into the column.", enum: COLUMN_SOURCES }),
  },
});

const schema = obj({
  description: "Writes events to PostgreSQL (insert-or-ignore on the event identity); offsets commit only after this.",
  fields: {
    name: stageName("persist"),
    url: str({
      description: `PostgreSQL URL, or \`${EMBEDDED_URL}\` for PGlite under the data dir. Put the password in the environment: \`\${DATABASE_URL}\`.`,
      pattern: `^(${EMBEDDED_URL}|postgres(ql)?://.+)$`,
      patternHint: `\`${EMBEDDED_URL}\` or a postgres:// / postgresql:// URL`,
    }),
    schema: str({ description: "Schema of the table.", pattern: IDENTIFIER_PATTERN, patternHint: "a SQL identifier", default: D.schema }),
    table: str({ description: "Table name.", pattern: IDENTIFIER_PATTERN, patternHint: "a SQL identifier", default: D.table }),
    connections: int({ description: "Connections per worker process.", min: 1, max: 64, default: D.connections }),
    manageSchema: bool({
      description: "Create and maintain the daily-partitioned table; `false` when you own the table (we only insert).",
      default: D.manageSchema,
    }),
    partitionsAheadDays: int({ description: "Daily partitions created ahead of today.", min: 0, max: 366, default: D.partitionsAheadDays }),
    retentionDays: int({ description: "Partitions entirely older than this are dropped.", min: 1, default: D.retentionDays }),
    maintenanceInterval: duration({
      description: "How often partitions are created ahead and expired.",
      exclusiveMin: 0,
      default: D.maintenanceIntervalMs,
    }),
    ginIndexOnData: bool({ description: "Add a GIN index on `data`.", default: D.ginIndexOnData }),
    columns: arr({
      description: "Column mapping for a table of your own; by default each attribute goes to the column of the same name.",
      minItems: 1,
      default: DEFAULT_COLUMNS,
      defaultSummary: `every attribute into the column of the same name (${COLUMN_SOURCES.join(", ")})`,
      items: column,
    }),
    method: str({
      description: "`copy` (COPY into a staging table, then insert-or-ignore) or `unnest` (INSERT ... SELECT FROM unnest).",
      enum: ["copy", "unnest"],
      default: D.method,
    }),
  },
});

type Value = Infer<typeof schema>;
type Column = { column?: string; from?: string } | undefined;

/** Each column mapped once, and the identity (source, id) always written. */
function checkColumns(columns: Column[], path: string, diag: import("../../config/diagnostics.ts").Diagnostics): void {
  const seen = new Map<string, number>();
  columns.forEach((c, i) => {
    if (!c?.column) return;
    const prev = seen.get(c.column);
    if (prev !== undefined) diag.add(`${joinIndex(path, i)}.column`, `column \`${c.column}\` is already mapped by ${path}[${prev}]`);
    else seen.set(c.column, i);
  });
  // The identity (source, id) is what insert-or-ignore and dedupe verification rely on.
  for (const needed of ["id", "source"]) {
    if (columns.length > 0 && !columns.some((c) => c?.from === needed)) {
      diag.add(path, `the mapping must write \`${needed}\` into some column: (source, id) is the event identity that keeps writes exact`);
    }
  }
}

// PostgreSQL is one shared server: more connections help up to ~4, then the server itself is the limit.
function ceiling(s: PersistStageConfig, replicas: number): StageCeiling {
  const R = ROWS_PER_SEC;
  if (s.url === EMBEDDED_URL) {
    return { stage: s.name, eventsPerSec: R.embedded, basis: `~${formatCount(R.embedded)} rows/s into embedded PGlite (one backend)` };
  }
  const conns = s.connections * replicas;
  const [one, four] = s.method === "copy" ? [R.copyOneConn, R.copyFourConns] : [R.unnestOneConn, R.unnestFourConns];
  const rate = conns >= 4 ? four : one + ((four - one) * (conns - 1)) / 3;
  return {
    stage: s.name,
    eventsPerSec: Math.round(rate),
    basis: `${s.method} with ${conns} connection(s) in total: ~${formatCount(one)} rows/s with 1, ~${formatCount(four)} with 4 (PostgreSQL-bound beyond)`,
  };
}

/** Whole-batch errors (PersistError), classified by SQLSTATE in sqlstate.ts. */
const ERRORS: Record<PersistErrorCode, ErrorCodeInfo> = {
  PERSIST_CONNECTION: { retriable: true, description: "Connection lost, refused, or the server shutting down." },
  PERSIST_TRANSIENT: { retriable: true, description: "Serialization failure, deadlock, too many connections." },
  PERSIST_ROW_REJECTED: { retriable: false, description: "The database rejected specific rows (constraint, bad data); they are isolated and dead-lettered." },
  PERSIST_SCHEMA: { retriable: false, description: "A migration failed or the table is missing." },
  PERSIST_FATAL: { retriable: false, description: "Anything else: unknown SQLSTATEs are fatal until classified." },
};

/** The persist stage. */
export const persistSpec = defineStage<"persist", Value, PersistStageConfig>({
  kind: "persist",
  schema,
  example: { url: "postgres://postgres@127.0.0.1:5432/postgres" },
  resolve(v) {
    return {
      kind: "persist",
      name: v.name,
      url: v.url,
      schema: v.schema,
      table: v.table,
      connections: v.connections,
      manageSchema: v.manageSchema,
      partitionsAheadDays: v.partitionsAheadDays,
      retentionDays: v.retentionDays,
      maintenanceIntervalMs: v.maintenanceInterval,
      ginIndexOnData: v.ginIndexOnData,
      columns: v.columns.map((c) => ({ column: c.column, from: c.from })),
      method: v.method,
    };
  },
  rules: {
    atMostOne: true,
    order: [{ kind: "enrich", position: "before", required: true, message: "persist writes the rows the enrich stage builds: put an `enrich` stage before it" }],
    check: (self, _pipeline, diag) => checkColumns((self.value as { columns?: Column[] } | undefined)?.columns ?? [], `${self.path}.columns`, diag),
  },
  explain(s, fleet) {
    const conns = s.url === EMBEDDED_URL ? "embedded PGlite" : `${s.connections} connection(s) per worker, up to ${s.connections * fleet.replicas.max} in total`;
    return [`Persist: ${s.schema}.${s.table} via ${s.method}, ${conns}.`];
  },
  capacity: (s, fleet) => ceiling(s, fleet.activeReplicas),
  async create(cfg) {
    return (await import("./index.ts")).createPersistStage(cfg);
  },
  errors: ERRORS,
  enrichNeeds: persistEnrichNeeds,
  rejections: { "PG_<SQLSTATE>": "PostgreSQL rejected this event's row (e.g. PG_23514 for a check constraint); the reason names the constraint or column." },
  async migrate(cfg, ctx) {
    await (await import("./migrate.ts")).migrate(cfg, ctx.logger, { dataDir: ctx.dataDir });
    return `migrated ${cfg.schema}.${cfg.table} (stage ${cfg.name})`;
  },
  localServices: (cfg) => (cfg.url === EMBEDDED_URL ? ["embedded-postgres"] : []),
  applyLaunch(cfg, launch) {
    if (cfg.url !== EMBEDDED_URL) return cfg;
    if (!launch.embeddedDatabaseUrl) {
      throw new ConfigError(
        "CONFIG_INVALID",
        `stage "${cfg.name}": persist url "${EMBEDDED_URL}" needs the embedded PostgreSQL that \`bun run topology\` starts; ` +
          "run the worker through the topology command or set a real url",
      );
    }
    return { ...cfg, url: launch.embeddedDatabaseUrl };
  },
});
