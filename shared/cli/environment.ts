/**
 * Settings the CLI takes from the environment (deployment tooling sets them): the data directory and the
 * HTTP port. Bad values are usage errors naming the variable.
 */
import { resolve } from "node:path";
import { ConfigError } from "../errors/index.ts";
import type { ResolvedTopology } from "../topology/types.ts";

type Env = Record<string, string | undefined>;

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
