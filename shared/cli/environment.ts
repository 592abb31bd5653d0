/**
 * Settings the CLI takes from the environment (deployment tooling sets them): the data directory and the
 * HTTP port. Bad values are usage errors naming the variable.
 */
import { resolve } from "node:path";
import { ConfigError } from "../errors/index.ts";
import type { ResolvedTopology } from "../topology/types.ts";

type Env = Record<string, string | undefined>;

/** One environment variable topofleet or its dev tools read; docs/reference/environment.md is generated from the table below. */
export interface EnvVarSpec {
  name: string;
  /** Who reads it: the fleet itself (supervisor, workers, CLI), or the tests, benches and dev scripts. */
  scope: "fleet" | "development";
  /** Its value when unset, in words. */
  default: string;
  effect: string;
}

/**
 * Every environment variable topofleet reads (test/docs/reference.test.ts fails when code reads one that is
 * missing here). Variables a topology file interpolates (`${VAR}`) are the file's own and not listed.
 */
export const ENVIRONMENT_VARIABLES: readonly EnvVarSpec[] = [
  { name: "TOPOFLEET_DATA_DIR", scope: "fleet", default: "`./.data/<topology name>`", effect: "Data dir (embedded PostgreSQL's files) when `--data-dir` is not given; also a standalone worker's data directory." },
  {
    name: "TOPOFLEET_HTTP_PORT",
    scope: "fleet",
    default: "`http.port` of the topology",
    effect: "Replaces `http.port`: a port number, `0` to disable HTTP, or `auto` for an ephemeral port (the bound port is logged: `http listening on 0.0.0.0:<port>`). The container image uses it.",
  },
  {
    name: "TOPOFLEET_HTTP_PORT_OFFSET",
    scope: "fleet",
    default: "0",
    effect: "Added to the port (the systemd units set it to the instance number so instances on one host don't collide).",
  },
  { name: "TOPOFLEET_LOG_LEVEL", scope: "fleet", default: "`log.level` of the topology", effect: "Overrides `log.level` for the supervisor, the workers, the CLI's one-shot modes and replay." },
  {
    name: "TOPOFLEET_MODULE_START_TIMEOUT_MS",
    scope: "fleet",
    default: "30000",
    effect: "Start-up deadline of user modules: the import of a custom stage or enrich module (probed in a throw-away thread) and a custom stage's factory.",
  },
  {
    name: "TOPOFLEET_INSTANCE",
    scope: "fleet",
    default: "host name and the supervisor's pid",
    effect: "Names the fleet in each worker's static `group.instance.id` (`<group>.<fleet>.<slot>`). The systemd units set it to host and instance; two live fleets with the same value fence each other.",
  },
  { name: "TOPOFLEET_WORKER_ID", scope: "fleet", default: "0", effect: "Id of a worker run alone (`bun workers/worker.ts <file>`, without the supervisor)." },
  { name: "TOPOFLEET_WORKER", scope: "fleet", default: "unset (a standalone worker)", effect: "Internal: the supervisor passes each worker its launch description as JSON. Not for users." },
  {
    name: "RDKAFKA_LIB",
    scope: "fleet",
    default: "the cached build, else the system library",
    effect: "Full path of the librdkafka (`librdkafka.so.1` / `.dylib`) to load, ahead of the build `dev/setup.sh` caches and the system library. `bun run topology --version` shows which was chosen.",
  },
  {
    name: "TOPOFLEET_CACHE",
    scope: "fleet",
    default: "`$XDG_CACHE_HOME/topofleet`, else `~/.cache/topofleet`",
    effect: "Where `dev/librdkafka/build.sh` leaves its librdkafka build and where the binding looks for it.",
  },
  { name: "XDG_CACHE_HOME", scope: "fleet", default: "`~/.cache`", effect: "Parent of the default `TOPOFLEET_CACHE`." },
  {
    name: "TOPOFLEET_RDKAFKA_PUBLIC_READS",
    scope: "fleet",
    default: "unset",
    effect: "`1` makes the consumer read timestamps and headers through librdkafka's public calls instead of its private message struct.",
  },
  { name: "NODE_EXTRA_CA_CERTS", scope: "fleet", default: "unset", effect: "A private CA for `rediss://` (Bun reads it); the system trust store is used otherwise." },
  {
    name: "KAFKA_BROKERS",
    scope: "development",
    default: "unset: an in-process mock cluster",
    effect: "A real broker for `bun run gen`, `bun run bench`, the recovery bench and the Kafka-facing and fault suites (topics of their own on it).",
  },
  {
    name: "DATABASE_URL",
    scope: "development",
    default: "`postgres://postgres@127.0.0.1:5432/test`",
    effect: "PostgreSQL for the tests and the bench (the shipped topologies also interpolate it).",
  },
  { name: "REDIS_URL", scope: "development", default: "`redis://127.0.0.1:6379`", effect: "Redis for the tests and the bench (the shipped topologies also interpolate it)." },
  {
    name: "REDIS_BLOOM_URL",
    scope: "development",
    default: "unset: the BF.* suites skip (fail under `CI=true`)",
    effect: "A Redis with the RedisBloom module (`BF.*`) for the RedisBloom suites; `.ci/run` starts one.",
  },
  { name: "CI", scope: "development", default: "unset", effect: "`true` (or `1`): a test whose service is missing fails instead of skipping with a printed reason." },
  { name: "PG_BIN", scope: "development", default: "the newest `/usr/lib/postgresql/<v>/bin`", effect: "PostgreSQL server binaries for tests that start an instance of their own." },
  {
    name: "KAFKA_KIT",
    scope: "development",
    default: "`../shared/kafka-broker`",
    effect: "The Apache Kafka distribution the retention tests take `kafka-delete-records.sh` from.",
  },
  { name: "KAFKA_HEAP", scope: "development", default: "`1g` (`512m` for the fault suite's broker)", effect: "Heap of the broker `dev/kafka/broker.sh` starts." },
  { name: "KAFKA_PORT", scope: "development", default: "9092", effect: "Port of the broker `dev/kafka/broker.sh` starts." },
  { name: "ZK_PORT", scope: "development", default: "2181", effect: "ZooKeeper port of the broker `dev/kafka/broker.sh` starts." },
  {
    name: "TOPOFLEET_FAULT",
    scope: "development",
    default: "unset (inert)",
    effect: "Fault-injection hook of the fault suite: `crash-after:<stage kind>[:<n>]` makes a worker SIGKILL itself after the n-th batch passed that stage. Production never sets it.",
  },
  { name: "TOPOFLEET_FAULT_ONCE", scope: "development", default: "unset", effect: "With `TOPOFLEET_FAULT`: a file that makes the crash happen once (the hook creates it before crashing)." },
  { name: "BUN_OPTIONS", scope: "development", default: "unset", effect: "Set by `bun run bench --profile DIR` to run the fleet's processes with `--cpu-prof`." },
];

/** --data-dir, else $TOPOFLEET_DATA_DIR, else ./.data/<topology name>; always absolute. */
export function resolveDataDir(flag: string | null, env: Env, topologyName: string, cwd = process.cwd()): string {
  const dir = flag ?? (env.TOPOFLEET_DATA_DIR || null) ?? `.data/${topologyName.replace(/[^A-Za-z0-9._-]+/g, "_")}`;
  return resolve(cwd, dir);
}

const port = (name: string, raw: string, max: number): number => {
  if (!/^[0-9]+$/.test(raw) || Number(raw) > max) {
    throw new ConfigError("CONFIG_USAGE", `${name} must be an integer between 0 and ${max}${name === "TOPOFLEET_HTTP_PORT" ? ' or "auto"' : ""}, got "${raw}"`);
  }
  return Number(raw);
};

/**
 * The HTTP listen address, or null when disabled. `http.port` from the topology (0 disables the server) is
 * replaced by $TOPOFLEET_HTTP_PORT when set (the container image uses it; "auto" asks the OS for an
 * ephemeral port, which is then logged — tests use it), and shifted by $TOPOFLEET_HTTP_PORT_OFFSET (systemd
 * sets it to the instance number so several instances on one host don't collide).
 */
export function resolveHttpBinding(http: ResolvedTopology["http"], env: Env): { host: string; port: number } | null {
  const fromEnv = env.TOPOFLEET_HTTP_PORT;
  if (fromEnv === "auto") return { host: http.host, port: 0 };
  let p = fromEnv ? port("TOPOFLEET_HTTP_PORT", fromEnv, 65535) : http.port;
  if (p === 0) return null;
  if (env.TOPOFLEET_HTTP_PORT_OFFSET) {
    p += port("TOPOFLEET_HTTP_PORT_OFFSET", env.TOPOFLEET_HTTP_PORT_OFFSET, 65535);
    if (p > 65535) throw new ConfigError("CONFIG_USAGE", `http port ${p} (port + TOPOFLEET_HTTP_PORT_OFFSET) is above 65535`);
  }
  return { host: http.host, port: p };
}
