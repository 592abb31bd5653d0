/**
 * Lookup tables: a static JSON file, and a PostgreSQL query loaded on the main thread, shared with the
 * threads and refreshed (real PostgreSQL, a unique table per test).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { EnrichError } from "../../../shared/errors/index.ts";
import { EventStatus } from "../../../shared/stages/batch.ts";
import type { LookupConfig } from "../../../shared/topology/types.ts";
import { M } from "../../../shared/telemetry/names.ts";
import { describeWith, PG_URL, uniqueName } from "../../../dev/support/services.ts";
import { batchOf, ce, startEnrich, structured, testTopology } from "./helpers.ts";
import { tempDir } from "../../../dev/support/temp-dir.ts";

const tmp = tempDir("enrich-lookups");
const dir = tmp.dir;
afterAll(() => tmp.cleanup());

function lookupFile(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

describe("static file lookup", () => {
  test("writes the value found for the event's key attribute into the `into` extension; lookups chain in order", async () => {
    const tiers = lookupFile("tiers.json", { acme: "gold", globex: "silver", initech: null });
    const limits = lookupFile("limits.json", { gold: 1000, silver: 10 });
    const lookups: LookupConfig[] = [
      { kind: "file", name: "tiers", path: tiers, key: "tenantid", into: "tier" },
      { kind: "file", name: "limits", path: limits, key: "tier", into: "ratelimit" },
    ];
    const { stage } = await startEnrich(testTopology({ enrich: { lookups } }));
    try {
      const b = batchOf([
        structured(ce({ id: "1", tenantid: "acme" })),
        structured(ce({ id: "2", tenantid: "globex" })),
        structured(ce({ id: "3", tenantid: "nobody" })),
        structured(ce({ id: "4", tenantid: "initech" })),
        structured(ce({ id: "5" })),
      ]);
      await stage.process(b);
      expect(b.count(EventStatus.Live)).toBe(5);
      const ext = b.events!.extensions.map((e) => JSON.parse(e!));
      expect(ext[0]).toMatchObject({ tier: "gold", ratelimit: 1000 });
      expect(ext[1]).toMatchObject({ tier: "silver", ratelimit: 10 });
      expect(ext[2].tier).toBeUndefined();
      expect(ext[3].tier).toBeUndefined(); // null values are left out of the table
      expect(ext[4].tier).toBeUndefined();
    } finally {
      await stage.close();
    }
  });

  test("a lookup into tenantid sets the tenant column", async () => {
    const path = lookupFile("source-tenants.json", { "/shop/orders": "shop-tenant" });
    const { stage } = await startEnrich(testTopology({ enrich: { lookups: [{ kind: "file", name: "st", path, key: "source", into: "tenantid" }] } }));
    try {
      const b = batchOf([structured(ce({ source: "/shop/orders" }))]);
      await stage.process(b);
      expect(b.events!.tenant[0]).toBe("shop-tenant");
    } finally {
      await stage.close();
    }
  });

  test.each([
    ["missing", null, "cannot read"],
    ["array.json", "[1,2]", "JSON object"],
    ["nested.json", '{"a":{"b":1}}', "string, number or boolean"],
    ["broken.json", "{", "cannot read"],
  ])("a %s file fails start with a non-retriable ENRICH_LOOKUP_UNAVAILABLE", async (name, content, message) => {
    const path = content === null ? join(dir, "does-not-exist.json") : lookupFile(name, content);
    const err = await startEnrich(testTopology({ enrich: { lookups: [{ kind: "file", name: "x", path, key: "source", into: "y" }] } })).catch((e) => e);
    expect(err).toBeInstanceOf(EnrichError);
    expect(err.code).toBe("ENRICH_LOOKUP_UNAVAILABLE");
    expect(err.retriable).toBe(false);
    expect(err.message).toContain(message);
  });
});

describeWith("postgres", "PostgreSQL lookup", () => {
  const table = uniqueName("enrich_lookup");
  const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
  beforeAll(async () => {
    await sql.unsafe(`CREATE TABLE ${table} (tenant text PRIMARY KEY, region text, weight int)`);
    await sql.unsafe(`INSERT INTO ${table} VALUES ('acme', 'eu', 3), ('globex', 'us', 5)`);
  });
  afterAll(async () => {
    await sql.unsafe(`DROP TABLE IF EXISTS ${table}`);
    await sql.end();
  });

  test("loads at start, refreshes, and keeps the last table when a refresh fails", async () => {
    const lookup: LookupConfig = { kind: "postgres", name: "regions", url: PG_URL, query: `SELECT tenant, region FROM ${table}`, key: "tenantid", into: "region", refreshMs: 3_600_000 };
    const { stage, metrics } = await startEnrich(testTopology({ enrich: { lookups: [lookup] } }));
    const regionsOf = async () => {
      const b = batchOf([structured(ce({ id: "a", tenantid: "acme" })), structured(ce({ id: "g", tenantid: "globex" })), structured(ce({ id: "i", tenantid: "initech" }))]);
      await stage.process(b);
      return b.events!.extensions.map((e) => JSON.parse(e!).region ?? null);
    };
    try {
      expect(await regionsOf()).toEqual(["eu", "us", null]);

      await sql.unsafe(`UPDATE ${table} SET region = 'apac' WHERE tenant = 'acme'`);
      await sql.unsafe(`INSERT INTO ${table} VALUES ('initech', 'latam', 1)`);
      expect(await regionsOf()).toEqual(["eu", "us", null]); // not refreshed yet
      expect(await stage.refreshLookups()).toBe(true);
      expect(await regionsOf()).toEqual(["apac", "us", "latam"]);
      expect(metrics.value(M.enrichLookupRefreshes, { stage: "enrich", lookup: "regions", outcome: "ok" })).toBe(1);

      await sql.unsafe(`ALTER TABLE ${table} RENAME TO ${table}_gone`);
      try {
        expect(await stage.refreshLookups()).toBe(false);
        expect(await regionsOf()).toEqual(["apac", "us", "latam"]);
        expect(metrics.value(M.enrichLookupRefreshes, { stage: "enrich", lookup: "regions", outcome: "failed" })).toBe(1);
        const health = await stage.health();
        expect(health.ok).toBe(true);
        expect(health.detail).toContain("lookup regions stale");
      } finally {
        await sql.unsafe(`ALTER TABLE ${table}_gone RENAME TO ${table}`);
      }
      expect(await stage.refreshLookups()).toBe(true);
      expect((await stage.health()).detail).not.toContain("stale");
    } finally {
      await stage.close();
    }
  });

  test("refreshes on its own every refreshMs", async () => {
    const lookup: LookupConfig = { kind: "postgres", name: "weights", url: PG_URL, query: `SELECT tenant, weight FROM ${table}`, key: "tenantid", into: "weight", refreshMs: 100 };
    const { stage } = await startEnrich(testTopology({ enrich: { lookups: [lookup] } }));
    try {
      await sql.unsafe(`UPDATE ${table} SET weight = 42 WHERE tenant = 'globex'`);
      let weight: unknown;
      for (let attempt = 0; attempt < 50 && weight !== 42; attempt++) {
        await Bun.sleep(50);
        const b = batchOf([structured(ce({ tenantid: "globex" }))]);
        await stage.process(b);
        weight = JSON.parse(b.events!.extensions[0]!).weight;
      }
      expect(weight).toBe(42);
    } finally {
      await stage.close();
    }
  });

  test("a query that does not return (key, value) columns fails start and names the problem", async () => {
    const lookup: LookupConfig = { kind: "postgres", name: "onecol", url: PG_URL, query: `SELECT tenant FROM ${table}`, key: "tenantid", into: "x", refreshMs: 1000 };
    const err = await startEnrich(testTopology({ enrich: { lookups: [lookup] } })).catch((e) => e);
    expect(err).toBeInstanceOf(EnrichError);
    expect(err.code).toBe("ENRICH_LOOKUP_UNAVAILABLE");
    expect(err.message).toContain("(key, value)");
  });

  test("an unreachable database at start fails with a retriable ENRICH_LOOKUP_UNAVAILABLE", async () => {
    const url = "postgres://postgres@127.0.0.1:1/test";
    const lookup: LookupConfig = { kind: "postgres", name: "down", url, query: "SELECT 1, 2", key: "source", into: "x", refreshMs: 1000 };
    const err = await startEnrich(testTopology({ enrich: { lookups: [lookup] } })).catch((e) => e);
    expect(err).toBeInstanceOf(EnrichError);
    expect(err.code).toBe("ENRICH_LOOKUP_UNAVAILABLE");
    expect(err.retriable).toBe(true);
    expect(err.message).toContain("lookup down");
  });
});
