/**
 * Every CloudEvents 1.0 rule, through the real stage (one piscina thread): each invalid event is
 * dead-lettered with its stable code and a reason naming the problem, and valid neighbours pass.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { EventStatus } from "../../../shared/stages/batch.ts";
import type { EnrichStage } from "../../../shared/stages/enrich/index.ts";
import { batchOf, binary, ce, row, recordProbe, startEnrich, structured, testTopology } from "./helpers.ts";

let stage: EnrichStage;
beforeAll(async () => {
  ({ stage } = await startEnrich(testTopology({ enrich: { maxEventBytes: 2048 } })));
});
afterAll(() => stage.close());

const { expectRejected, expectValid } = recordProbe(() => stage);

describe("required attributes", () => {
  for (const attr of ["specversion", "id", "source", "type"]) {
    test(`missing ${attr} -> CE_MISSING_ATTRIBUTE naming it`, () => expectRejected(structured(ce({ [attr]: undefined })), "CE_MISSING_ATTRIBUTE", attr));
    test(`null ${attr} counts as missing`, () => expectRejected(structured(ce({ [attr]: null })), "CE_MISSING_ATTRIBUTE", attr));
  }
  for (const attr of ["id", "source", "type"]) {
    test(`empty ${attr} -> CE_BAD_ATTRIBUTE_VALUE`, () => expectRejected(structured(ce({ [attr]: "" })), "CE_BAD_ATTRIBUTE_VALUE", `${attr} must be a non-empty string`));
    test(`numeric ${attr} -> CE_BAD_ATTRIBUTE_TYPE`, () => expectRejected(structured(ce({ [attr]: 42 })), "CE_BAD_ATTRIBUTE_TYPE", `${attr} must be a string`));
  }
  test("U+0000 inside id -> CE_BAD_ATTRIBUTE_VALUE", () => expectRejected(structured(ce({ id: "a\u0000b" })), "CE_BAD_ATTRIBUTE_VALUE", "U+0000"));
  test("required attributes are checked in a fixed order", () => expectRejected(structured(ce({ type: undefined, id: undefined, Bad: 1 })), "CE_MISSING_ATTRIBUTE", "id"));
  test("missing in binary mode too", () =>
    expectRejected(binary({ specversion: "1.0", id: "b1", type: "t" }, null), "CE_MISSING_ATTRIBUTE", "source"));
});

describe("specversion", () => {
  test.each([["0.3"], ["1"], ["1.0.0"], [1.0]])("%p -> CE_BAD_SPECVERSION", (v) => expectRejected(structured(ce({ specversion: v })), "CE_BAD_SPECVERSION", "1.0"));
  test("binary-mode ce_specversion 0.3 -> CE_BAD_SPECVERSION", () =>
    expectRejected(binary({ specversion: "0.3", id: "b", source: "/s", type: "t" }, null), "CE_BAD_SPECVERSION", "0.3"));
});

describe("source is a URI-reference", () => {
  test.each([["/tenants/acme/orders"], ["https://example.com/a?b=c#d"], ["urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66"], ["mailto:ops@example.com"], ["//host/x"], ["orders"], ["/a%20b"], ["https://[::1]:8080/x"]])(
    "accepts %p",
    (source) => expectValid(structured(ce({ source }))),
  );
  test.each([["/with space"], ["/bad%zz"], ["1http://x"], [":x"], ["/a#b#c"], ["/caf\u00e9"], ["/a[1]"], ["/tab\there"]])("rejects %p", (source) =>
    expectRejected(structured(ce({ source })), "CE_BAD_ATTRIBUTE_VALUE", "source"),
  );
});

describe("time", () => {
  test.each([
    ["2024-05-01T12:34:56Z", "2024-05-01T12:34:56Z"],
    ["2024-05-01T14:34:56.25+02:00", "2024-05-01T12:34:56.25Z"],
    ["1990-12-31T23:59:60Z", "1991-01-01T00:00:00Z"],
    ["1990-12-31T15:59:60-08:00", "1991-01-01T00:00:00Z"],
    ["2024-02-29t00:00:00z", "2024-02-29T00:00:00Z"],
  ])("valid %p is stored as %p", async (time, text) => {
    const b = await expectValid(structured(ce({ time })));
    expect(b.events!.timeText[1]).toBe(text);
    expect(row(b, 1).time).toBe(text);
  });
  test.each([
    ["2024-05-01 12:34:56Z"],
    ["2024-05-01T12:34:56"],
    ["2023-02-29T00:00:00Z"],
    ["2024-05-01T25:00:00Z"],
    ["2024-05-01T12:34:60Z"],
    ["2024-05-01T12:34:56+0200"],
    ["01/05/2024"],
    ["1714566896"],
    ["2024-05-01T12:34:56.Z"],
  ])("invalid %p -> CE_BAD_TIME", (time) => expectRejected(structured(ce({ time })), "CE_BAD_TIME", JSON.stringify(time)));
  test("non-string time -> CE_BAD_ATTRIBUTE_TYPE", () => expectRejected(structured(ce({ time: 1714566896 })), "CE_BAD_ATTRIBUTE_TYPE", "time"));
  test("binary-mode ce_time is validated the same way", () =>
    expectRejected(binary({ specversion: "1.0", id: "b", source: "/s", type: "t", time: "yesterday" }, null), "CE_BAD_TIME", "yesterday"));
});

describe("extension attributes", () => {
  test.each([["Tenant"], ["tenant_id"], ["tenant-id"], ["tenant.id"], ["ténant"], [""]])("name %p -> CE_BAD_EXTENSION_NAME", (name) =>
    expectRejected(structured(ce({ [name]: "x" })), "CE_BAD_EXTENSION_NAME", JSON.stringify(name)),
  );
  test("names longer than 20 characters are accepted (the spec only recommends <= 20)", async () => {
    const b = await expectValid(structured(ce({ averyveryverylongextensionname: "x" })));
    expect(JSON.parse(b.events!.extensions[1]!).averyveryverylongextensionname).toBe("x");
  });
  test.each([["ce_data"], ["ce_data_base64"]])("binary-mode header %s -> CE_BAD_EXTENSION_NAME (data travels in the value)", (header) =>
    expectRejected(
      { ...binary({ specversion: "1.0", id: "b", source: "/s", type: "t" }, null), headers: [["ce_specversion", new TextEncoder().encode("1.0")], [header, new TextEncoder().encode("AAAA")]] },
      "CE_BAD_EXTENSION_NAME",
      header,
    ),
  );
  test("binary-mode attribute header that is not UTF-8 -> CE_BAD_ATTRIBUTE_VALUE", () =>
    expectRejected(
      { ...binary({ specversion: "1.0", id: "b", source: "/s", type: "t" }, null), headers: [["ce_specversion", new TextEncoder().encode("1.0")], ["ce_region", new Uint8Array([0xc3, 0x28])]] },
      "CE_BAD_ATTRIBUTE_VALUE",
      "ce_region",
    ));
  test("binary-mode non-ASCII header values are read as UTF-8", async () => {
    const b = await expectValid(binary({ specversion: "1.0", id: "b", source: "/s", type: "t", region: "zürich" }, null));
    expect(JSON.parse(b.events!.extensions[1]!).region).toBe("zürich");
  });
  test("binary-mode header ce_Region -> CE_BAD_EXTENSION_NAME", () =>
    expectRejected(binary({ specversion: "1.0", id: "b", source: "/s", type: "t", Region: "eu" }, null), "CE_BAD_EXTENSION_NAME", "Region"));
  test.each([[{ a: 1 }, "object"], [[1], "array"], [1.5, "number 1.5"], [2 ** 31, `number ${2 ** 31}`]])("value %p -> CE_BAD_ATTRIBUTE_TYPE", (v, what) =>
    expectRejected(structured(ce({ comexample: v })), "CE_BAD_ATTRIBUTE_TYPE", what),
  );
  test("string, boolean and int32 values pass; null values count as absent", async () => {
    const b = await expectValid(structured(ce({ region: "eu", sampled: true, priority: -5, unset: null, subject: null })));
    expect(JSON.parse(b.events!.extensions[1]!)).toEqual({ datacontenttype: "application/json", priority: -5, region: "eu", sampled: true });
    expect(b.events!.subject[1]).toBeNull();
  });
});

describe("optional context attributes", () => {
  test("empty subject -> CE_BAD_ATTRIBUTE_VALUE", () => expectRejected(structured(ce({ subject: "" })), "CE_BAD_ATTRIBUTE_VALUE", "subject"));
  test("numeric subject -> CE_BAD_ATTRIBUTE_TYPE", () => expectRejected(structured(ce({ subject: 7 })), "CE_BAD_ATTRIBUTE_TYPE", "subject"));
  test("datacontenttype must be a media type", () => expectRejected(structured(ce({ datacontenttype: "json" })), "CE_BAD_ATTRIBUTE_VALUE", "datacontenttype"));
  test("datacontenttype with parameters is fine", () => expectValid(structured(ce({ datacontenttype: "application/json; charset=utf-8" }))));
  test("dataschema must be an absolute URI", () => expectRejected(structured(ce({ dataschema: "/schemas/order" })), "CE_BAD_ATTRIBUTE_VALUE", "dataschema"));
  test("absolute dataschema passes", () => expectValid(structured(ce({ dataschema: "https://example.com/schemas/order.json" }))));
});

describe("the record value", () => {
  test("null value in structured mode -> CE_NULL_VALUE", () => expectRejected(structured(null), "CE_NULL_VALUE", "null"));
  test("bad JSON -> CE_BAD_JSON", () => expectRejected(structured('{"specversion":"1.0",'), "CE_BAD_JSON", "not valid JSON"));
  test("invalid UTF-8 -> CE_BAD_JSON", () => expectRejected(structured(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), "CE_BAD_JSON", "UTF-8"));
  test.each([["[1,2]", "array"], ['"text"', "string"], ["42", "number"], ["null", "null"], ["true", "boolean"]])("JSON %s -> CE_NOT_OBJECT", (text, what) =>
    expectRejected(structured(text), "CE_NOT_OBJECT", what),
  );
  test("value over maxEventBytes -> CE_TOO_LARGE", () =>
    expectRejected(structured(ce({ data: { blob: "x".repeat(4000) } })), "CE_TOO_LARGE", "maxEventBytes (2048)"));
  test("a value of exactly maxEventBytes passes", async () => {
    const base = JSON.stringify(ce({ data: { blob: "" } }));
    const exact = JSON.stringify(ce({ data: { blob: "x".repeat(2048 - base.length) } }));
    expect(new TextEncoder().encode(exact).length).toBe(2048);
    await expectValid(structured(exact));
  });
  test("data and data_base64 together -> CE_BAD_DATA", () => expectRejected(structured(ce({ data_base64: "AAAA" })), "CE_BAD_DATA", "mutually exclusive"));
  test("data_base64 that is not base64 -> CE_BAD_DATA", () => expectRejected(structured(ce({ data: undefined, data_base64: "not base64!" })), "CE_BAD_DATA", "base64"));
  test("U+0000 in data -> CE_BAD_DATA (jsonb cannot store it)", () => expectRejected(structured(ce({ data: { s: "a\u0000b" } })), "CE_BAD_DATA", "U+0000"));
  test("an escaped backslash before u0000 is ordinary text", () => expectValid(structured(ce({ data: { s: "a\\u0000b" } }))));
});

test("no event is silently dropped: every record is Live or dead-lettered with a reason", async () => {
  const records = [
    structured(ce({ id: "ok-1" })),
    structured(null),
    structured("{"),
    structured(ce({ type: undefined })),
    structured(ce({ time: "bad" })),
    structured(ce({ Bad: 1 })),
    binary({ specversion: "1.0", id: "bin", source: "/s", type: "t" }, null),
    structured(ce({ id: "ok-2" })),
  ];
  const b = batchOf(records);
  await stage.process(b);
  for (let i = 0; i < b.size; i++) {
    if (b.status[i] === EventStatus.Live) expect(b.events!.copyLines[i].length).toBeGreaterThan(0);
    else {
      expect(b.status[i]).toBe(EventStatus.DeadLettered);
      expect(b.rejections.get(i)?.code).toMatch(/^CE_/);
    }
  }
  expect(b.count(EventStatus.Live)).toBe(3);
  expect(b.rejections.size).toBe(5);
});
