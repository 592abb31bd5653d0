/**
 * The limits enrich enforces so that what it passes PostgreSQL stores (sink-limits.ts), the CloudEvents 1.0.2
 * String and Integer rules, the structured/binary mode decision by content-type and the attribute cap: each
 * through the real stage (one piscina thread), between two valid neighbours that must pass. The same events
 * are written to the real database in test/stages/persist/sink-limits.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { EventStatus } from "../../../shared/stages/batch.ts";
import type { EnrichStage } from "../../../shared/stages/enrich/index.ts";
import { EnrichRejectCode as C } from "../../../shared/stages/enrich/codes.ts";
import { MAX_FRACTION_DIGITS } from "../../../shared/stages/enrich/rfc3339.ts";
import { hasEscapedLoneSurrogate, jsonDeeperThan, MAX_JSON_DEPTH, MAX_KEY_BYTES, MAX_TENANT_BYTES, stringRuleProblem } from "../../../shared/stages/enrich/sink-limits.ts";
import { batchOf, binary, ce, recordProbe, startEnrich, structured, testTopology } from "./helpers.ts";

let stage: EnrichStage;
beforeAll(async () => {
  ({ stage } = await startEnrich(testTopology({ enrich: { maxEventBytes: 4 << 20, maxAttributes: 300 } })));
});
afterAll(() => stage.close());

const { expectRejected, expectValid } = recordProbe(() => stage);

describe("String rule (CloudEvents 1.0.2)", () => {
  test.each([
    ["id", "x\ud800", "lone surrogate (U+D800)"],
    ["id", "x\udbff", "lone surrogate (U+DBFF)"],
    ["id", "\udc00x", "lone surrogate (U+DC00)"],
    ["source", "/a\u0001b", "control character (U+0001)"],
    ["type", "t\u007f", "control character (U+007F)"],
    ["subject", "s\u0085", "control character (U+0085)"],
    ["subject", "s\ufdd0", "noncharacter (U+FDD0)"],
    ["id", "x\uffff", "noncharacter (U+FFFF)"],
    ["region", "r\u{10ffff}", "noncharacter (U+10FFFF)"],
    ["region", "r\ud800", "lone surrogate"],
    ["region", "tab\there", "control character (U+0009)"],
  ])("%s %j -> CE_BAD_ATTRIBUTE_VALUE", (name, value, why) => expectRejected(structured(ce({ [name]: value })), C.BadAttributeValue, why));

  test("U+FFFD, paired surrogates and other non-ASCII text are valid", async () => {
    for (const id of ["x\ufffd", "x\u{1F600}", "grüße τ", "x\u00a0"]) await expectValid(structured(ce({ id })));
  });

  test("ids that differ only in lone surrogates never collapse: two rejected, U+FFFD kept", async () => {
    const b = batchOf(["x\ud800", "x\udbff", "x\ufffd"].map((id) => structured(ce({ id }))));
    await stage.process(b);
    expect([...b.status]).toEqual([EventStatus.DeadLettered, EventStatus.DeadLettered, EventStatus.Live]);
    expect(b.events!.id[2]).toBe("x\ufffd");
  });

  test("binary mode: control characters in a header value -> CE_BAD_ATTRIBUTE_VALUE", () =>
    expectRejected(binary({ specversion: "1.0", id: "a\u0007", source: "/s", type: "t" }, null), C.BadAttributeValue, "U+0007"));

  test("the pure check names the first offending character", () => {
    expect(stringRuleProblem("plain")).toBeNull();
    expect(stringRuleProblem("ab\u0000")).toBe("contains a control character (U+0000) at index 2");
    // Past the printable-ASCII shortcut: DEL, C1 controls, noncharacters and lone surrogates are still found.
    expect(stringRuleProblem("ok\u007f")).toBe("contains a control character (U+007F) at index 2");
    expect(stringRuleProblem("é\u0085")).toBe("contains a control character (U+0085) at index 1");
    expect(stringRuleProblem("x\ufffe")).toBe("contains a Unicode noncharacter (U+FFFE) at index 1");
    expect(stringRuleProblem("x\ud800y")).toBe("contains a lone surrogate (U+D800) at index 1");
    expect(stringRuleProblem("grüße 😀")).toBeNull();
  });
});

describe("Integer rule", () => {
  test.each([["3.0"], ["1e3"], ["1E3"], ["-2.50e1"]])("extension %s -> CE_BAD_ATTRIBUTE_TYPE", (token) => {
    const text = JSON.stringify(ce()).replace(/}$/, `,"count":${token}}`);
    return expectRejected(structured(text), C.BadAttributeType, `count is ${token}`);
  });

  test("an integer token, also after nested values with numbers inside, is valid", async () => {
    const text = JSON.stringify(ce({ data: { x: 1.5, y: [2e3] } })).replace(/}$/, `, "count" : -42 }`);
    const b = await expectValid(structured(text));
    expect(JSON.parse(b.events!.extensions[1]!).count).toBe(-42);
  });

  test("data may hold any number", () => expectValid(structured(JSON.stringify(ce()).replace(/"data":\{[^}]*\}/, '"data":1e3'))));
});

describe("time", () => {
  test(`more than ${MAX_FRACTION_DIGITS} fraction digits -> CE_BAD_TIME (PostgreSQL refuses long timestamp texts)`, async () => {
    await expectRejected(structured(ce({ time: `2024-05-01T12:00:00.${"1".repeat(200)}Z` })), C.BadTime, "more than 9");
    await expectValid(structured(ce({ time: `2024-05-01T12:00:00.${"1".repeat(MAX_FRACTION_DIGITS)}Z` })));
  });
});

describe("data the jsonb column cannot take", () => {
  test(`nesting deeper than ${MAX_JSON_DEPTH} -> CE_DATA_TOO_DEEP; exactly ${MAX_JSON_DEPTH} passes`, async () => {
    const nest = (d: number) => `{"specversion":"1.0","id":"deep","source":"/s","type":"t","data":${"[".repeat(d)}${"]".repeat(d)}}`;
    await expectRejected(structured(nest(20_000)), C.DataTooDeep, `${MAX_JSON_DEPTH} levels`);
    await expectValid(structured(nest(MAX_JSON_DEPTH)));
  });

  test("a lone surrogate anywhere in data (value or key) -> CE_BAD_DATA", async () => {
    await expectRejected(structured(ce({ data: { a: ["ok", "x\udc01"] } })), C.BadData, "lone surrogate");
    await expectRejected(structured(ce({ data: { ["k\ud801"]: 1 } })), C.BadData, "lone surrogate");
    await expectValid(structured(ce({ data: { a: "\u{1F600}", b: "\\ud800 is text" } })));
  });

  test("the pure scanners skip strings and escaped backslashes", () => {
    expect(jsonDeeperThan('["[[[[["]', 2)).toBe(false);
    expect(jsonDeeperThan("[[[]]]", 2)).toBe(true);
    expect(hasEscapedLoneSurrogate(JSON.stringify("\\ud800"))).toBe(false);
    expect(hasEscapedLoneSurrogate(JSON.stringify("\ud800"))).toBe(true);
  });
});

describe("keys the btree indexes cannot hold", () => {
  test(`source + id over ${MAX_KEY_BYTES} bytes -> CE_KEY_TOO_LARGE; exactly ${MAX_KEY_BYTES} passes`, async () => {
    const source = "/s";
    await expectRejected(structured(ce({ source, id: "x".repeat(4000) })), C.KeyTooLarge, "primary-key index");
    await expectRejected(structured(ce({ source, id: "é".repeat(MAX_KEY_BYTES / 2) })), C.KeyTooLarge, `${MAX_KEY_BYTES + 2} bytes`);
    await expectValid(structured(ce({ source, id: "x".repeat(MAX_KEY_BYTES - source.length) })));
  });

  test(`a tenant over ${MAX_TENANT_BYTES} bytes -> CE_KEY_TOO_LARGE`, () =>
    expectRejected(structured(ce({ tenantid: "t".repeat(MAX_TENANT_BYTES + 1) })), C.KeyTooLarge, "(tenant, time) index"));
});

describe("attributes per event", () => {
  test("more than maxAttributes -> CE_TOO_MANY_ATTRIBUTES", () => {
    const ev = ce();
    for (let k = 0; k < 400; k++) ev[`x${k}`] = "v";
    return expectRejected(structured(ev), C.TooManyAttributes, "more than 300");
  });

  test("80,000 extension attributes in descending name order are rejected in well under a second", async () => {
    const ev = ce();
    for (let k = 80_000; k > 0; k--) ev[`z${String(k).padStart(6, "0")}`] = 1;
    const t0 = performance.now();
    await expectRejected(structured(ev), C.TooManyAttributes, "maxAttributes");
    // Generous bound for a loaded machine: the quadratic sort took 11.8 s here.
    expect(performance.now() - t0).toBeLessThan(3000);
  });
});

describe("content mode (Kafka protocol binding 1.0.2)", () => {
  const attrs = { specversion: "1.0", id: "hdr-id", source: "/hdr", type: "t" };
  const headersOf = (h: Record<string, string>) => Object.entries(h).map(([k, v]) => [k, new TextEncoder().encode(v)] as [string, Uint8Array]);

  test("content-type application/cloudevents+json is structured mode even with ce_ headers", async () => {
    const b = await expectValid(
      structured(ce({ id: "body-id" }), { headers: headersOf({ ce_specversion: "1.0", ce_id: "hdr-id", "Content-Type": "application/cloudevents+json; charset=utf-8" }) }),
    );
    expect(b.events!.id[1]).toBe("body-id");
  });

  test("another event format in structured mode -> CE_UNSUPPORTED_FORMAT", () =>
    expectRejected(structured(ce(), { headers: headersOf({ "content-type": "application/cloudevents+avro" }) }), C.UnsupportedFormat, "JSON event format"));

  test("batch mode is not part of the Kafka binding -> CE_UNSUPPORTED_FORMAT", () =>
    expectRejected(structured("[]", { headers: headersOf({ "content-type": "application/cloudevents-batch+json" }) }), C.UnsupportedFormat, "cloudevents-batch"));

  test("ce_specversion with a plain JSON content-type is binary mode", async () => {
    const b = await expectValid(binary({ ...attrs, datacontenttype: "application/json" }, '{"a":1}'));
    expect(b.events!.id[1]).toBe("hdr-id");
  });

  test("the content-type header name and the structured media type match in any letter case, after any leading space", async () => {
    const ceHeaders = { ce_specversion: "1.0", ce_id: "hdr-id", ce_source: "/hdr", ce_type: "t" };
    for (const [name, value] of [
      ["CONTENT-TYPE", "Application/CloudEvents+JSON"],
      ["Content-type", " \t application/cloudevents+json"],
      // trimStart skips Unicode spaces too (U+00A0, U+3000).
      ["content-type", "\u00a0\u3000APPLICATION/CLOUDEVENTS+json"],
    ]) {
      const b = await expectValid(structured(ce({ id: "body-id" }), { headers: headersOf({ ...ceHeaders, [name]: value }) }));
      expect(b.events!.id[1]).toBe("body-id");
    }
    // A look-alike name or media type is not it: binary mode, read from the ce_ headers.
    for (const [name, value] of [
      ["content-typ", "application/cloudevents+json"],
      ["content_type", "application/cloudevents+json"],
      ["content-type", "application/cloudeventz+json"],
      ["content-type", "application/cloudevent"],
    ]) {
      const b = await expectValid(binary(ceHeaders as Record<string, string>, null, { headers: headersOf({ ...ceHeaders, [name]: value }) }));
      expect(b.events!.id[1]).toBe("hdr-id");
    }
  });

  test("a binary-mode JSON content-type in any spelling is JSON; anything else is base64", async () => {
    const dataOf = async (contentType: string) => {
      const b = await expectValid(binary({ ...attrs, datacontenttype: contentType }, '{"a":1}'));
      return b.events!.data[1];
    };
    expect(await dataOf("application/json")).toBe('{"a":1}');
    expect(await dataOf("Application/JSON; charset=utf-8")).toBe('{"a":1}');
    expect(await dataOf("application/vnd.order+JSON")).toBe('{"a":1}');
    expect(await dataOf("application/jsonx")).toBe(`{"data_base64":"${Buffer.from('{"a":1}').toString("base64")}"}`);
  });
});

describe("nesting refused before parsing", () => {
  test("100,000 levels in a structured value and in binary-mode data -> CE_DATA_TOO_DEEP", async () => {
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    await expectRejected(structured(`{"specversion":"1.0","id":"d","source":"/s","type":"t","data":${deep}}`), C.DataTooDeep, "deeper than");
    await expectRejected(binary({ specversion: "1.0", id: "d", source: "/s", type: "t", datacontenttype: "application/json" }, deep), C.DataTooDeep, "deeper than");
  });
});

describe("partition window (untrusted times cannot create partitions)", () => {
  test("times older than retentionDays or beyond partitionsAheadDays + 1 are dead-lettered; the window's edges pass", async () => {
    const { stage: windowed } = await startEnrich(testTopology({ persist: { retentionDays: 30, partitionsAheadDays: 3 } }));
    try {
      const day = 86_400_000;
      const today = Math.floor(Date.now() / day) * day;
      const at = (ms: number) => new Date(ms).toISOString();
      const times = [at(today - 30 * day), at(today - 31 * day + 1000), at(today + 4 * day + 3600_000), at(today + 5 * day), "9999-12-31T12:00:00Z", "0001-01-01T00:00:00Z"];
      const b = batchOf(times.map((time, k) => structured(ce({ id: `w${k}`, time }))));
      await windowed.process(b);
      expect(b.status[0]).toBe(EventStatus.Live);
      expect(b.rejections.get(1)?.code).toBe(C.TimeTooOld);
      expect(b.status[2]).toBe(EventStatus.Live);
      expect(b.rejections.get(3)?.code).toBe(C.TimeTooFarAhead);
      expect(b.rejections.get(4)?.code).toBe(C.TimeTooFarAhead);
      expect(b.rejections.get(5)?.code).toBe(C.TimeTooOld);
      expect(b.rejections.get(1)?.reason).toContain("retention (30 days)");
    } finally {
      await windowed.close();
    }
  });

  test("a user-owned table (manageSchema false) has no partition window", async () => {
    const { stage: unmanaged } = await startEnrich(testTopology({ persist: { manageSchema: false, retentionDays: 30 } }));
    try {
      const b = batchOf([structured(ce({ time: "0001-01-01T00:00:00Z" }))]);
      await unmanaged.process(b);
      expect(b.status[0]).toBe(EventStatus.Live);
    } finally {
      await unmanaged.close();
    }
  });
});


describe("numbers in data", () => {
  test("a number beyond a double (1e400, 400 digits) -> CE_BAD_DATA instead of a silent null; large finite numbers pass", async () => {
    const withData = (d: string) => JSON.stringify(ce({ data: "@" })).replace('"@"', d);
    await expectRejected(structured(withData('{"x":[1e400]}')), C.BadData, "range of a double");
    await expectRejected(structured(withData("9".repeat(400))), C.BadData, "range of a double");
    await expectRejected(binary({ specversion: "1.0", id: "n", source: "/s", type: "t", datacontenttype: "application/json" }, "-1E+999"), C.BadData, "range of a double");
    await expectValid(structured(withData('{"x":1e300,"s":"1e400 in a string"}')));
  });
});

describe("Integer rule only for extensions", () => {
  test("a numeric id is a type error about strings, not about Integer syntax", () =>
    expectRejected(structured(JSON.stringify(ce()).replace(/"id":"[^"]*"/, '"id":1.0')), C.BadAttributeType, "id must be a string"));
});
