/**
 * Structured and binary content modes (Kafka protocol binding 1.0.2) end in the same row, and every data
 * shape lands in the `data` column as JSON text.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { EventStatus } from "../../../shared/stages/batch.ts";
import type { EnrichStage } from "../../../shared/stages/enrich/index.ts";
import { batchOf, binary, ce, row, startEnrich, structured, testTopology } from "./helpers.ts";

let stage: EnrichStage;
beforeAll(async () => {
  ({ stage } = await startEnrich(testTopology()));
});
afterAll(() => stage.close());

const attrs = {
  specversion: "1.0",
  id: "same-1",
  source: "/tenants/acme/orders",
  type: "com.example.order.created",
  time: "2024-05-01T12:34:56.789Z",
  subject: "order-1",
  tenantid: "acme",
  region: "eu-west-1",
  datacontenttype: "application/json",
};

describe("binary and structured modes", () => {
  test("give the same row, column for column (including the extensions JSON text)", async () => {
    const data = { orderId: 1, amount: 12.5, note: "tab\there" };
    // Header order differs from the JSON key order on purpose: extensions are sorted.
    const reversed = Object.fromEntries(Object.entries(attrs).reverse());
    const b = batchOf([structured({ ...attrs, data }, { offset: 10 }), binary(reversed, JSON.stringify(data), { offset: 10 })]);
    await stage.process(b);
    expect(b.status[0]).toBe(EventStatus.Live);
    expect(b.status[1]).toBe(EventStatus.Live);
    const e = b.events!;
    expect(e.copyLines[1]).toBe(e.copyLines[0]);
    expect(e.dedupeKey[1]).toBe(e.dedupeKey[0]);
    expect([...e.probes.subarray(e.probesPerKey, 2 * e.probesPerKey)]).toEqual([...e.probes.subarray(0, e.probesPerKey)]);
    expect(row(b, 1)).toMatchObject({ id: "same-1", tenant: "acme", data: JSON.stringify(data) });
    expect(JSON.parse(e.extensions[1]!)).toEqual({ datacontenttype: "application/json", region: "eu-west-1", tenantid: "acme" });
  });

  test("a binary record is detected by its ce_specversion header, not by other ce_ headers", async () => {
    const b = batchOf([structured(ce({ id: "s" }), { headers: [["ce_id", new TextEncoder().encode("ignored")]] })]);
    await stage.process(b);
    expect(b.status[0]).toBe(EventStatus.Live);
    expect(b.events!.id[0]).toBe("s");
  });

  test("content-type with parameters and a +json suffix is JSON", async () => {
    const b = batchOf([binary({ ...attrs, datacontenttype: "application/vnd.acme+json; charset=utf-8" }, '{"a":[1,2]}')]);
    await stage.process(b);
    expect(b.events!.data[0]).toBe('{"a":[1,2]}');
  });
});

describe("data shapes", () => {
  test("structured data_base64 is stored as {\"data_base64\": …}", async () => {
    const b = batchOf([structured(ce({ data: undefined, datacontenttype: "application/octet-stream", data_base64: "AAEC/w==" }))]);
    await stage.process(b);
    expect(b.status[0]).toBe(EventStatus.Live);
    expect(JSON.parse(b.events!.data[0]!)).toEqual({ data_base64: "AAEC/w==" });
  });

  test("binary non-JSON data is base64-wrapped, byte for byte", async () => {
    const bytes = new Uint8Array([0, 1, 2, 255, 10, 9, 92]);
    const b = batchOf([binary({ ...attrs, datacontenttype: "application/octet-stream" }, bytes), binary({ ...attrs, datacontenttype: "text/plain" }, "héllo\tworld")]);
    await stage.process(b);
    expect(b.count(EventStatus.Live)).toBe(2);
    const first = JSON.parse(b.events!.data[0]!);
    expect([...Buffer.from(first.data_base64, "base64")]).toEqual([...bytes]);
    expect(Buffer.from(JSON.parse(b.events!.data[1]!).data_base64, "base64").toString("utf8")).toBe("héllo\tworld");
    expect(JSON.parse(b.events!.extensions[1]!).datacontenttype).toBe("text/plain");
  });

  test("binary data without a content-type is base64 (it cannot be assumed to be JSON)", async () => {
    const { datacontenttype: _, ...noType } = attrs;
    const b = batchOf([binary(noType, '{"a":1}')]);
    await stage.process(b);
    expect(JSON.parse(b.events!.data[0]!)).toEqual({ data_base64: Buffer.from('{"a":1}').toString("base64") });
  });

  test("binary JSON content-type with a value that is not JSON -> CE_BAD_DATA", async () => {
    const b = batchOf([binary(attrs, "{oops")]);
    await stage.process(b);
    expect(b.rejections.get(0)?.code).toBe("CE_BAD_DATA");
    expect(b.rejections.get(0)?.reason).toContain("application/json");
  });

  test("binary record with a null value is an event without data", async () => {
    const b = batchOf([binary(attrs, null)]);
    await stage.process(b);
    expect(b.status[0]).toBe(EventStatus.Live);
    expect(b.events!.data[0]).toBeNull();
    expect(row(b, 0).data).toBeNull();
  });

  test("explicit data: null is the JSON text null; absent data is SQL NULL", async () => {
    const b = batchOf([structured(ce({ data: null })), structured(ce({ data: undefined }))]);
    await stage.process(b);
    expect(b.events!.data[0]).toBe("null");
    expect(b.events!.data[1]).toBeNull();
  });

  test("string data with a non-JSON datacontenttype stays a JSON string", async () => {
    const b = batchOf([structured(ce({ datacontenttype: "application/xml", data: '<much wow="xml"/>' }))]);
    await stage.process(b);
    expect(JSON.parse(b.events!.data[0]!)).toBe('<much wow="xml"/>');
  });
});
