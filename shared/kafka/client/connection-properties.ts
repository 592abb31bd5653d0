import type { KafkaConfig } from "../types.ts";

/**
 * Property prefixes that apply to every librdkafka client type (connection, security, metadata). The rest of
 * a consumer's properties is consumer tuning, which a producer or admin client ignores with a CONFWARN.
 */
const CONNECTION_PREFIXES = ["security.", "sasl.", "ssl.", "socket.", "broker.", "client.dns.", "metadata.", "api.version", "enable.ssl.", "reconnect."];

/** The connection and security subset of a consumer's properties, for the producers and admin clients beside it. */
export function connectionProperties(props: KafkaConfig): KafkaConfig {
  const out: KafkaConfig = {};
  for (const [k, v] of Object.entries(props)) if (CONNECTION_PREFIXES.some((p) => k.startsWith(p))) out[k] = v;
  return out;
}
