import { describe, expect, test } from "bun:test";
import {
  createEventFactory,
  EXPECTED_REJECTION_CODE,
  HEADER_INVALID,
  HEADER_RUN,
  INVALID_KINDS,
  LoadgenError,
  parseUniqueId,
  type EventFactoryOptions,
  type GeneratedRecord,
} from "../../shared/loadgen/index.ts";

const base: EventFactoryOptions = {
  tenants: 8,
  payloadBytes: 200,
  duplicateRatio: 0.05,
  invalidRatio: 0.02,
  binaryRatio: 0.3,
  seed: 42,
  runId: "testrun",
  now: () => Date.UTC(2024, 4, 1, 12, 0, 0, 123),
};

const take = (opts: EventFactoryOptions, n: number): GeneratedRecord[] => {
  const f = createEventFactory(opts);
  return Array.from({ length: n }, () => f.next());
};

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

describe("event factory", () => {
  test("the same seed and clock give the same records; another seed differs", () => {
    const a = take(base, 2000);
    const b = take(base, 2000);
    const c = take({ ...base, seed: 43 }, 2000);
    expect(b).toEqual(a);
    expect(c.map((r) => r.value)).not.toEqual(a.map((r) => r.value));
  });

  test("valid structured events are CloudEvents 1.0 with tenantid, subject, RFC 3339 time and ~payloadBytes data", () => {
    const recs = take({ ...base, binaryRatio: 0 }, 500).filter((r) => r.kind === "valid");
    expect(recs.length).toBeGreaterThan(400);
    for (const r of recs) {
      expect(r.headers).toBeUndefined();
      const ce = JSON.parse(r.value);
      expect(ce.specversion).toBe("1.0");
      expect(ce.id).toBe(`testrun-${r.seq}`);
      expect(ce.source).toBe(`/tenants/${r.tenant}/orders`);
      expect(typeof ce.type).toBe("string");
      expect(ce.time).toMatch(RFC3339);
      expect(ce.tenantid).toBe(r.tenant);
      expect(ce.subject).toBe(`order/${r.seq}`);
      const dataLen = JSON.stringify(ce.data).length;
      expect(Math.abs(dataLen - 200)).toBeLessThanOrEqual(2);
      expect(r.key).toBe(r.tenant);
    }
  });

  test("valid binary events carry ce_* headers and content-type, data JSON in the value", () => {
    const recs = take({ ...base, binaryRatio: 1, duplicateRatio: 0, invalidRatio: 0 }, 100);
    for (const r of recs) {
      expect(r.binary).toBe(true);
      const h = Object.fromEntries(r.headers!);
      expect(h.ce_specversion).toBe("1.0");
      expect(h.ce_id).toBe(`testrun-${r.seq}`);
      expect(h.ce_source).toBe(r.source!);
      expect(h.ce_time).toMatch(RFC3339);
      expect(h.ce_tenantid).toBe(r.tenant);
      expect(h.ce_subject).toBe(`order/${r.seq}`);
      expect(h["content-type"]).toBe("application/json");
      expect(JSON.parse(r.value).order).toBe(r.seq);
    }
  });

  test("unique ids are <runId>-0..n-1 in order, and duplicates are exact copies of earlier valid records", () => {
    const recs = take(base, 20_000);
    const seen = new Map<string, GeneratedRecord>();
    let next = 0;
    for (const r of recs) {
      if (r.kind === "valid") {
        expect(r.seq).toBe(next++);
        expect(parseUniqueId("testrun", r.id!)).toBe(r.seq);
        seen.set(r.id!, r);
      } else if (r.kind === "duplicate") {
        const orig = seen.get(r.id!);
        expect(orig).toBeDefined();
        expect(r.value).toBe(orig!.value);
        expect(r.key).toBe(orig!.key);
        expect(r.headers).toEqual(orig!.headers);
        expect(r.source).toBe(orig!.source);
      }
    }
  });

  test("ratios are within tolerance of the configured shares", () => {
    const n = 100_000;
    const f = createEventFactory({ ...base, duplicateRatio: 0.1, invalidRatio: 0.05, binaryRatio: 0.25 });
    for (let i = 0; i < n; i++) f.next();
    const c = f.counts();
    expect(c.records).toBe(n);
    expect(c.unique + c.duplicates + c.invalid).toBe(n);
    expect(Math.abs(c.duplicates / n - 0.1)).toBeLessThan(0.005);
    expect(Math.abs(c.invalid / n - 0.05)).toBeLessThan(0.005);
    // binary share is over valid + duplicate records
    expect(Math.abs(c.binary / (c.unique + c.duplicates) - 0.25)).toBeLessThan(0.01);
  });

  test("invalid records rotate through every kind, are really invalid, and carry the run and kind headers", () => {
    const recs = take({ ...base, invalidRatio: 0.5, duplicateRatio: 0 }, 400).filter((r) => r.kind === "invalid");
    expect(recs.map((r) => r.invalidKind).slice(0, 8)).toEqual([...INVALID_KINDS, ...INVALID_KINDS]);
    const missing = new Set<string>();
    for (const r of recs) {
      const h = Object.fromEntries(r.headers!);
      expect(h[HEADER_RUN]).toBe("testrun");
      expect(h[HEADER_INVALID]).toBe(r.invalidKind!);
      expect(EXPECTED_REJECTION_CODE[r.invalidKind!]).toMatch(/^CE_/);
      if (r.invalidKind === "malformed_json") {
        expect(() => JSON.parse(r.value)).toThrow();
        continue;
      }
      const ce = JSON.parse(r.value);
      if (r.invalidKind === "missing_attribute") {
        const gone = ["id", "source", "type"].filter((a) => !(a in ce));
        expect(gone.length).toBe(1);
        missing.add(gone[0]);
      } else if (r.invalidKind === "bad_time") {
        expect(ce.specversion).toBe("1.0");
        expect(RFC3339.test(ce.time) && !Number.isNaN(Date.parse(ce.time))).toBe(false);
      } else {
        expect(ce.specversion).not.toBe("1.0");
      }
      if (ce.id !== undefined) expect(parseUniqueId("testrun", ce.id)).toBeNull();
    }
    expect([...missing].sort()).toEqual(["id", "source", "type"]);
  });

  test("key modes: id and none", () => {
    for (const r of take({ ...base, key: "id" }, 200)) if (r.kind !== "invalid" || r.id) expect(r.key).toBe(r.kind === "invalid" ? `testrun-x${r.seq}` : r.id!);
    for (const r of take({ ...base, key: "none" }, 200)) expect(r.key).toBeNull();
  });

  test("two factories without a runId never share ids", () => {
    const a = createEventFactory({ ...base, runId: undefined });
    const b = createEventFactory({ ...base, runId: undefined });
    expect(a.runId).not.toBe(b.runId);
    expect(a.next().id).not.toBe(b.next().id);
  });

  test("out-of-range options are a LoadgenError LOADGEN_CONFIG naming each problem", () => {
    try {
      createEventFactory({ ...base, duplicateRatio: 1.5, tenants: 0 });
      throw new Error("expected a LoadgenError");
    } catch (err) {
      expect(err).toBeInstanceOf(LoadgenError);
      expect((err as LoadgenError).code).toBe("LOADGEN_CONFIG");
      expect((err as LoadgenError).retriable).toBe(false);
      expect((err as Error).message).toContain("duplicateRatio");
      expect((err as Error).message).toContain("tenants");
    }
  });
});
