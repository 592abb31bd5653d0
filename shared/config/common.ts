/** Patterns and small descriptors shared by several parts of the topology schema. */
import { map, str } from "./dsl.ts";

/** Kafka's legal topic names. */
export const TOPIC_PATTERN = "^[A-Za-z0-9._-]{1,249}$";
/** A topic name, or a `^regex` subscription. */
export const SUBSCRIPTION_PATTERN = "^(\\^.+|[A-Za-z0-9._-]{1,249})$";
/** A PostgreSQL identifier we can use unquoted-safe (we still quote it in SQL). */
export const IDENTIFIER_PATTERN = "^[A-Za-z_][A-Za-z0-9_]{0,62}$";
/** A CloudEvents attribute / extension name (spec: lowercase a-z and digits). */
export const ATTRIBUTE_PATTERN = "^[a-z0-9]+$";
/** A stage or lookup name (metrics label, DLQ header). */
export const STAGE_NAME_PATTERN = "^[A-Za-z0-9_.-]{1,63}$";
/** A postgres:// or postgresql:// URL. */
export const POSTGRES_URL_PATTERN = "^postgres(ql)?://.+";

/** Rejects a `^regex` subscription that does not compile. */
export function checkSubscription(value: string): string | undefined {
  if (!value.startsWith("^")) return undefined;
  try {
    new RegExp(value);
    return undefined;
  } catch (err) {
    return `invalid regex subscription: ${(err as Error).message}`;
  }
}

/** librdkafka properties: any key, scalar values passed as strings. */
export const kafkaProperties = map({
  description:
    "librdkafka configuration properties passed verbatim (TLS, SASL, tuning), e.g. `security.protocol: SASL_SSL`. " +
    "Put secrets in the environment: `sasl.password: ${KAFKA_PASSWORD}`.",
  default: {},
  values: str({ description: "A librdkafka property value.", coerce: true }),
});

/** A stage's name, defaulting to its kind. */
export function stageName(kind: string) {
  return str({
    description: "Stage name, unique in the pipeline; used in metric labels and dead-letter headers.",
    default: kind,
    pattern: STAGE_NAME_PATTERN,
    patternHint: "letters, digits, `_`, `.` or `-`",
  });
}

/** Where Redis-backed stages connect by default. */
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

/** Reload period of tables read from PostgreSQL (lookups, tenant limits). */
export const DEFAULT_RELOAD_MS = 5 * 60_000;

/** The largest event value accepted when no stage sets a bound (the enrich default; the dead-letter producer sizes from it). */
export const DEFAULT_MAX_EVENT_BYTES = 1024 * 1024;

/** A Redis URL field (dedupe, limit): same pattern and advice everywhere. */
export function redisUrlField(def: string = DEFAULT_REDIS_URL) {
  return str({
    description: "Redis URL (`rediss://` for TLS). Put a password in the environment: `${REDIS_URL}`.",
    pattern: "^rediss?://.+",
    patternHint: "a redis:// or rediss:// URL",
    default: def,
  });
}

/** A PostgreSQL URL field; `env` names the variable the advice suggests for the password. */
export function postgresUrlField(env: string) {
  return str({
    description: `PostgreSQL URL. Put the password in the environment: \`\${${env}}\`.`,
    pattern: POSTGRES_URL_PATTERN,
    patternHint: "a postgres:// or postgresql:// URL",
  });
}

/** A CloudEvents attribute name field. */
export function attributeField(description: string) {
  return str({ description, pattern: ATTRIBUTE_PATTERN, patternHint: "a CloudEvents attribute name (lowercase a-z, 0-9)" });
}
