/** explainTopology: parallelism warnings and the throughput bound it names. */
import { describe, expect, test } from "bun:test";
import { parseTopology } from "../../shared/topology/index.ts";

const FILE = "/tmp/topofleet-explain/topology.yaml";

function kafkaTopology(concurrency: string, dedupe = "  - dedupe:\n", persist = "      url: postgres://postgres@127.0.0.1/test\n"): string {
  return `name: ex\nsource:\n  kafka:\n    brokers: b:9092\n    topics: [events]\nstages:\n  - enrich:\n      threads: 1\n${dedupe}  - persist:\n${persist}concurrency:\n${concurrency}`;
}

describe("explainTopology", () => {
  test("states the retry policy of the `retry:` section", async () => {
    const { explainTopology } = await import("../../shared/topology/index.ts");
    const t = parseTopology(kafkaTopology("  replicas: 1\n").concat("retry:\n  initial: 250ms\n  max: 1m\n  jitter: full\n  commit:\n    rebalanceRetry: 2s\n"), FILE, {});
    expect(explainTopology(t, { partitions: 1, cores: 2 })).toContain("after 250ms growing x2 to at most 1m (full jitter); a sync commit refused by a rebalance is retried for 2s.");
  });

  test("warns when replicas exceed partitions (idle members)", async () => {
    const t = parseTopology(kafkaTopology("  replicas: {min: 1, max: 8, lagPerReplica: 1000}\n"), FILE, {});
    const { explainTopology } = await import("../../shared/topology/index.ts");
    expect(explainTopology(t, { partitions: 3, cores: 16 })).toContain("WARNING: up to 8 replicas but 3 partition(s): 5 replica(s) would sit idle");
    expect(explainTopology(t, { partitions: 16, cores: 16 })).not.toContain("would sit idle");
  });

  test("compares enrich threads with cores", async () => {
    const { explainTopology } = await import("../../shared/topology/index.ts");
    const t = parseTopology(kafkaTopology("  replicas: 2\n"), FILE, {});
    expect(explainTopology(t, { partitions: 4, cores: 2 })).toContain("WARNING: oversubscribed (4 busy threads for 2 cores)");
    expect(explainTopology(t, { partitions: 4, cores: 8 })).toContain("2 per worker; 8 core(s) on this machine: fits");
  });

  test("names persist as the bottleneck of a Kafka -> Redis -> PostgreSQL pipeline, with batch and in-flight figures", async () => {
    const { explainTopology } = await import("../../shared/topology/index.ts");
    const text = explainTopology(parseTopology(kafkaTopology("  replicas: 2\n"), FILE, {}), { partitions: 8, cores: 2 });
    expect(text).toContain("Likely bottleneck: persist at ~119k events/s");
    expect(text).toContain("up to 5000 events or 8MiB, closed after 50ms; 4 in flight per worker, so up to 20000 events");
    expect(text).toContain("~177k keys/s per Redis client");
  });

  test("a single unnest connection is slower than the Redis client: persist still bounds, at the 1-connection figure", async () => {
    const { explainTopology } = await import("../../shared/topology/index.ts");
    const t = parseTopology(kafkaTopology("  replicas: 1\n", "", "      url: postgres://x@db/app\n      connections: 1\n      method: unnest\n"), FILE, {});
    expect(explainTopology(t, { partitions: 1, cores: 2 })).toContain("Likely bottleneck: persist at ~56k events/s");
  });

  test("the mock partitions are used when no partition count is given, and the generator rate is named as the input bound", async () => {
    const { explainTopology } = await import("../../shared/topology/index.ts");
    const t = parseTopology(
      "name: m\nsource:\n  mock:\n    partitions: 2\n    generator: {rate: 5000}\nstages:\n  - enrich:\nconcurrency:\n  replicas: 4\n",
      FILE,
      {},
    );
    const text = explainTopology(t, { cores: 8 });
    expect(text).toContain("4 replicas but 2 partition(s)");
    expect(text).toContain("Likely bound: the generator's input rate, ~5k events/s");
    expect(t.warnings.join("\n")).toContain("4 replicas for 2 mock partitions: 2 would sit idle");
    expect(text).toContain("Warnings:");
  });

  test("dedupe memory: per-tenant filters stay about twice one shared filter; the BF.* growth bound is shown", async () => {
    const { explainTopology } = await import("../../shared/topology/index.ts");
    const mibOf = (text: string, re: RegExp) => Number(re.exec(text)![1]);
    const shared = explainTopology(parseTopology(kafkaTopology("  replicas: 1\n", "  - dedupe:\n      expectedPerWindow: 1000000\n"), FILE, {}), { partitions: 1, cores: 2 });
    const tenants = explainTopology(
      parseTopology(kafkaTopology("  replicas: 1\n", "  - dedupe:\n      expectedPerWindow: 1000000\n      perTenant: true\n      tenantFilters: 16\n"), FILE, {}),
      { partitions: 1, cores: 2 },
    );
    expect(shared).toContain("Dedupe filters: one shared filter; at most ~");
    expect(tenants).toContain("tenants hashed onto 16 filters (+1 without a tenant), each for 125000 keys");
    const one = mibOf(shared, /one shared filter; at most ~([\d.]+) MiB/);
    const many = mibOf(tenants, /each for 125000 keys; at most ~([\d.]+) MiB/);
    expect(many / one).toBeLessThan(2.3);
    expect(shared).toMatch(/with BF\.\* growing to 4 sub-filters/);
  });
});
