/** The `limit:` stage and `tracing:` section: resolved defaults, overrides, and what --explain says about them. */
import { expect, test } from "bun:test";
import { explainTopology, parseTopology } from "../../shared/topology/index.ts";
import type { LimitStageConfig } from "../../shared/topology/types.ts";

const base = `name: billing
source:
  kafka: { brokers: "localhost:9092", topics: [events] }
`;

test("limit: defaults resolve (burst = rate, prefix from the name), overrides keep their own period and quota", () => {
  const t = parseTopology(
    `${base}stages:
  - enrich: {}
  - limit:
      default: { rate: 500, per: 1s, quota: 1000000 }
      tenants:
        acme: { rate: 60, per: 1m, burst: 10 }
      onLimit: dead-letter
  - persist: { url: embedded }
`,
    "/tmp/billing.yaml",
    {},
  );
  const limit = t.stages[1] as LimitStageConfig;
  expect(limit).toMatchObject({
    kind: "limit",
    name: "limit",
    prefix: "tf:billing:limit",
    defaultLimit: { events: 500, perMs: 1000, burst: 500, quota: 1_000_000, quotaWindowMs: 86_400_000 },
    tenants: { acme: { events: 60, perMs: 60_000, burst: 10, quota: null } },
    onLimit: "dead-letter",
    maxDelayMs: 10_000,
    onRedisDown: "fail",
  });
  expect(t.tracing.endpoint).toBeNull();
  const explained = explainTopology(t);
  expect(explained).toContain("Limit: 500 events per 1s per tenant (burst 500), quota 1000000 per 1d");
  expect(explained).toContain("1 Redis call (EVALSHA of one script) per batch");
  expect(explained).toContain("Tracing: off");
});

test("tracing: endpoint, sampling and headers resolve; explain names the sampling and hides URL secrets", () => {
  const t = parseTopology(
    `${base}stages:
  - enrich: {}
tracing:
  endpoint: "https://user:s3cret@otel.example:4318/v1/traces"
  sampling: 0.01
  headers: { x-team: billing }
`,
    "/tmp/billing.yaml",
    {},
  );
  expect(t.tracing).toMatchObject({ sampling: 0.01, serviceName: "topofleet-billing", headers: { "x-team": "billing" }, maxQueueSpans: 2048 });
  const explained = explainTopology(t);
  expect(explained).toContain("1% of batches sampled");
  expect(explained).not.toContain("s3cret");
});
