/** Literal secrets warn (without the value); explain and redactTopology never print a secret. */
import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { explainTopology, loadTopology, parseTopology, redactTopology } from "../../shared/topology/index.ts";
import { redactSecretsInText } from "../../shared/config/secrets.ts";
import { GOOD } from "./support.ts";

const FILE = "/tmp/topofleet-secrets/topology.yaml";
const PLANTED = "Pl4nted-S3cret";

function withSecrets(persistUrl: string, password: string): string {
  return [
    "name: secrets",
    "source:",
    "  kafka:",
    "    brokers: localhost:9092",
    "    topics: [events]",
    "    properties:",
    "      sasl.username: app",
    `      sasl.password: ${password}`,
    "stages:",
    "  - enrich:",
    "  - persist:",
    `      url: ${persistUrl}`,
  ].join("\n");
}

describe("literal secrets", () => {
  test("a literal password in a URL and in sasl.password warns with position, without the value", () => {
    const t = parseTopology(withSecrets(`postgres://app:${PLANTED}@db/app`, PLANTED), FILE, {});
    expect(t.warnings).toHaveLength(2);
    expect(t.warnings[0]).toBe(`${FILE}:8:22: source.kafka.properties["sasl.password"]: holds a literal secret; put it in the environment and write \`\${ENV_VAR}\` instead`);
    expect(t.warnings[1]).toStartWith(`${FILE}:12:12: stages[1].persist.url: a URL here carries a literal password`);
    for (const w of t.warnings) expect(w).not.toContain(PLANTED);
  });

  test("secrets from the environment do not warn", () => {
    const t = parseTopology(withSecrets("postgres://app:${PG_PASSWORD}@db/app", "${KAFKA_PASSWORD}"), FILE, {
      PG_PASSWORD: PLANTED,
      KAFKA_PASSWORD: PLANTED,
    });
    expect(t.warnings).toEqual([]);
    expect(t.source.kind === "kafka" && t.source.properties["sasl.password"]).toBe(PLANTED);
  });

  test("a whole URL from the environment does not warn, a default that carries a password does", () => {
    const fromEnv = parseTopology(withSecrets("${DATABASE_URL}", "${KP}"), FILE, { DATABASE_URL: `postgres://u:${PLANTED}@db/x`, KP: "x" });
    expect(fromEnv.warnings).toEqual([]);
    const inDefault = parseTopology(withSecrets(`\${DATABASE_URL:-postgres://u:${PLANTED}@db/x}`, "${KP}"), FILE, { KP: "x" });
    expect(inDefault.warnings).toHaveLength(1);
    expect(inDefault.warnings[0]).toContain("stages[1].persist.url");
    expect(inDefault.warnings[0]).not.toContain(PLANTED);
  });

  test("secret-looking keys in custom stage options warn too", () => {
    const text = `${withSecrets("embedded", "${KP}")}\n  - custom:\n      module: ${resolve(GOOD, "stages/filter.ts")}\n      options:\n        apiToken: ${PLANTED}\n`;
    const t = parseTopology(text.replace("  - persist:\n      url: embedded\n", ""), FILE, { KP: "x" });
    expect(t.warnings.some((w) => w.includes('options.apiToken') && !w.includes(PLANTED))).toBe(true);
  });
});

describe("redaction", () => {
  test("explain never prints a planted secret, shows *** for URL passwords and [redacted] for secret properties", async () => {
    const t = await loadTopology(resolve(GOOD, "full.yaml"), {
      env: { KAFKA_PASSWORD: PLANTED, LOOKUP_PASSWORD: PLANTED, REDIS_PASSWORD: PLANTED, PG_PASSWORD: PLANTED, FILTER_TOKEN: PLANTED },
    });
    const text = explainTopology(t, { partitions: 12, cores: 2 });
    expect(text).not.toContain(PLANTED);
    expect(text).toContain("postgres://app:***@db:5432/app");
    expect(text).toContain("postgres://reader:***@db:5432/meta");
    expect(text).toContain("rediss://:***@cache:6380/0");
    expect(text).toContain('sasl.password: "[redacted]"');
    expect(text).toContain('apiToken: "[redacted]"');
    expect(text).toContain("sasl.username: app"); // not a secret
  });

  test("redactTopology returns a copy and leaves the topology intact", async () => {
    const t = await loadTopology(resolve(GOOD, "full.yaml"), { env: { KAFKA_PASSWORD: PLANTED, LOOKUP_PASSWORD: "l", REDIS_PASSWORD: "r", PG_PASSWORD: "p" } });
    const r = redactTopology(t);
    expect(JSON.stringify(r)).not.toContain(PLANTED);
    expect(r.source.kind === "kafka" && r.source.properties["sasl.password"]).toBe("[redacted]");
    expect(t.source.kind === "kafka" && t.source.properties["sasl.password"]).toBe(PLANTED);
    expect(r.stages[2]!.kind === "dedupe" && r.stages[2].redisUrl).toBe("rediss://:***@cache:6380/0");
  });
});

/** A kafka topology whose properties and persist URL are given verbatim. */
function withProperties(properties: Record<string, string>, persistUrl: string): string {
  return [
    "name: secrets",
    "source:",
    "  kafka:",
    "    brokers: localhost:9092",
    "    topics: [events]",
    "    properties:",
    ...Object.entries(properties).map(([k, v]) => `      ${k}: ${JSON.stringify(v)}`),
    "stages:",
    "  - enrich:",
    "  - persist:",
    `      url: ${JSON.stringify(persistUrl)}`,
  ].join("\n");
}

describe("every secret-bearing key and URL part", () => {
  const pem = `-----BEGIN PRIVATE KEY-----\\nMIIE${PLANTED}\\n-----END PRIVATE KEY-----`;
  const jaas = `org.apache.kafka.common.security.plain.PlainLoginModule required username="app" password="${PLANTED}";`;
  const oauth = `principal=app clientSecret=${PLANTED} scope=events`;

  test("literal ssl.key.pem, sasl.jaas.config, sasl.oauthbearer.config and ?password= warn, naming the key only", () => {
    const text = withProperties(
      { "ssl.key.pem": pem, "sasl.jaas.config": jaas, "sasl.oauthbearer.config": oauth },
      `postgres://app@db:5432/app?sslmode=require&password=${PLANTED}`,
    );
    const t = parseTopology(text, FILE, {});
    const keys = ['properties["ssl.key.pem"]', 'properties["sasl.jaas.config"]', 'properties["sasl.oauthbearer.config"]', "stages[1].persist.url"];
    for (const k of keys) expect(t.warnings.some((w) => w.includes(k))).toBe(true);
    for (const w of t.warnings) expect(w).not.toContain(PLANTED);
  });

  test("explain redacts them, literal or from ${ENV}, and keeps the harmless parts of the URL", () => {
    const literal = parseTopology(
      withProperties({ "ssl.key.pem": pem, "sasl.jaas.config": jaas, "sasl.oauthbearer.config": oauth }, `postgres://app@db:5432/app?sslmode=require&password=${PLANTED}`),
      FILE,
      {},
    );
    const fromEnv = parseTopology(
      withProperties({ "ssl.key.pem": "${PEM}", "sasl.jaas.config": "${JAAS}", "sasl.oauthbearer.config": "${OAUTH}" }, "${DATABASE_URL}"),
      FILE,
      { PEM: pem, JAAS: jaas, OAUTH: oauth, DATABASE_URL: `postgres://app@db:5432/app?sslpassword=${PLANTED}&sslmode=require` },
    );
    expect(fromEnv.warnings).toEqual([]);
    for (const t of [literal, fromEnv]) {
      const text = explainTopology(t, { partitions: 4, cores: 2 });
      expect(text).not.toContain(PLANTED);
      expect(text).toContain('ssl.key.pem: "[redacted]"');
      expect(text).toContain('sasl.jaas.config: "[redacted]"');
      expect(text).toContain('sasl.oauthbearer.config: "[redacted]"');
      expect(text).toMatch(/url: postgres:\/\/app@db:5432\/app\?(sslmode=require&)?(ssl)?password=\*\*\*/);
    }
  });

  test("tracing exporter headers are secrets whatever their names: a literal one warns, explain redacts every value", () => {
    const text = (value: string) =>
      [
        withSecrets("postgres://app@db/app", "${KAFKA_PASSWORD}"),
        "tracing:",
        "  endpoint: http://otel:4318/v1/traces",
        "  headers:",
        `    x-honeycomb-team: ${value}`,
      ].join("\n");
    const literal = parseTopology(text(PLANTED), FILE, { KAFKA_PASSWORD: "p" });
    expect(literal.warnings.some((w) => w.includes('tracing.headers["x-honeycomb-team"]') || w.includes("tracing.headers.x-honeycomb-team"))).toBe(true);
    for (const w of literal.warnings) expect(w).not.toContain(PLANTED);
    const fromEnv = parseTopology(text("${OTLP_KEY}"), FILE, { KAFKA_PASSWORD: "p", OTLP_KEY: PLANTED });
    expect(fromEnv.warnings).toEqual([]);
    for (const t of [literal, fromEnv]) {
      const out = explainTopology(t, { partitions: 4, cores: 2 });
      expect(out).not.toContain(PLANTED);
      expect(out).toContain('x-honeycomb-team: "[redacted]"');
      expect(t.tracing.headers["x-honeycomb-team"]).toBe(PLANTED);
    }
  });

  test("log text is scrubbed of URL secrets, secret assignments and PEM keys wherever they appear", () => {
    const line = JSON.stringify({
      msg: `connect postgres://u:${PLANTED}@db/x?password=${PLANTED} failed`,
      jaas,
      detail: `${oauth} and ${pem.replaceAll("\\n", "\n")}`,
    });
    const scrubbed = redactSecretsInText(line);
    expect(scrubbed).not.toContain(PLANTED);
    expect(scrubbed).toContain("postgres://u:***@db/x?password=***");
    expect(scrubbed).toContain("scope=events");
    expect(redactSecretsInText("plain line with no secrets")).toBe("plain line with no secrets");
  });
});
