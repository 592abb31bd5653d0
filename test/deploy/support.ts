import { join } from "node:path";
import { loadTopology } from "../../shared/topology/index.ts";

export const REPO = join(import.meta.dir, "..", "..");
export const INGEST = join(REPO, "topologies", "ingest.yaml");
/** A secret planted in the environment; no emitted file may contain it. */
export const PLANTED = "pl4nted-s3cret-9f1c";
export const SECRET_ENV = {
  ...process.env,
  DATABASE_URL: `postgres://ingest:${PLANTED}@db.internal:5432/events`,
  REDIS_URL: `redis://:${PLANTED}@redis.internal:6379`,
  KAFKA_BROKERS: "k1:9092,k2:9092",
};

/** Loads topologies/ingest.yaml with the planted secrets in its environment. */
export const loadIngest = () => loadTopology(INGEST, { env: SECRET_ENV });

/** Parses a systemd unit into section → key → values (keys may repeat). */
export function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = new Map();
      out.set(s[1], section);
      continue;
    }
    const eq = line.indexOf("=");
    if (!section || eq < 0) throw new Error(`not a unit line: ${line}`);
    const k = line.slice(0, eq);
    section.set(k, [...(section.get(k) ?? []), line.slice(eq + 1)]);
  }
  return out;
}
