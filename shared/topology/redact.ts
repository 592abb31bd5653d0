/** Secret-free copies of a resolved topology for explain output and logs. */
import { isSecretKey, isSecretMap, REDACTED, redactUrl } from "../config/secrets.ts";
import type { ResolvedTopology } from "./types.ts";

/** A deep copy with URL passwords as `***` and secret-looking properties (password/secret/token) and exporter headers as `[redacted]`. */
export function redactTopology(t: ResolvedTopology): ResolvedTopology {
  return redactValue(t, false) as ResolvedTopology;
}

function redactValue(v: unknown, secretKey: boolean, secretMap = false): unknown {
  if (secretMap && v !== null && typeof v === "object" && !Array.isArray(v)) {
    return Object.fromEntries(Object.keys(v).map((k) => [k, REDACTED]));
  }
  if (secretKey && v !== null && typeof v !== "object") return REDACTED;
  if (typeof v === "string") return redactUrl(v);
  if (Array.isArray(v)) return v.map((x) => redactValue(x, secretKey));
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactValue(x, isSecretKey(k), isSecretMap(k))]));
  }
  return v;
}
