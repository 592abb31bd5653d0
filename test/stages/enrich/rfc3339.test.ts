import { describe, expect, test } from "bun:test";
import { parseRfc3339, timeFromEpochMs } from "../../../shared/stages/enrich/rfc3339.ts";

describe("parseRfc3339", () => {
  test.each([
    ["2024-05-01T12:34:56Z", Date.UTC(2024, 4, 1, 12, 34, 56), "2024-05-01T12:34:56Z"],
    ["2024-05-01T12:34:56.789Z", Date.UTC(2024, 4, 1, 12, 34, 56, 789), "2024-05-01T12:34:56.789Z"],
    ["2024-05-01t12:34:56z", Date.UTC(2024, 4, 1, 12, 34, 56), "2024-05-01T12:34:56Z"],
    ["2024-05-01T14:34:56+02:00", Date.UTC(2024, 4, 1, 12, 34, 56), "2024-05-01T12:34:56Z"],
    ["2024-05-01T00:30:00+01:00", Date.UTC(2024, 3, 30, 23, 30, 0), "2024-04-30T23:30:00Z"],
    ["2024-05-01T12:34:56-00:00", Date.UTC(2024, 4, 1, 12, 34, 56), "2024-05-01T12:34:56Z"],
    ["1937-01-01T12:00:27.87+00:20", Date.UTC(1937, 0, 1, 11, 40, 27, 870), "1937-01-01T11:40:27.87Z"],
    ["2024-02-29T00:00:00Z", Date.UTC(2024, 1, 29), "2024-02-29T00:00:00Z"],
    ["2000-02-29T00:00:00Z", Date.UTC(2000, 1, 29), "2000-02-29T00:00:00Z"],
    // Leap seconds (RFC 3339 5.8 examples): the instant after 23:59:59 UTC, like PostgreSQL reads them.
    ["1990-12-31T23:59:60Z", Date.UTC(1991, 0, 1), "1991-01-01T00:00:00Z"],
    ["1990-12-31T15:59:60-08:00", Date.UTC(1991, 0, 1), "1991-01-01T00:00:00Z"],
    ["2016-12-31T23:59:60.5Z", Date.UTC(2017, 0, 1, 0, 0, 0, 500), "2017-01-01T00:00:00.5Z"],
    // Date.UTC maps years 0-99 to 1900-1999, so year 1 comes from a parsed ISO string.
    ["0001-01-01T00:00:00Z", new Date("0001-01-01T00:00:00Z").getTime(), "0001-01-01T00:00:00Z"],
    ["2024-05-01T12:34:56.500Z", Date.UTC(2024, 4, 1, 12, 34, 56, 500), "2024-05-01T12:34:56.5Z"],
  ])("accepts %s", (input, ms, text) => {
    const r = parseRfc3339(input);
    expect(typeof r).toBe("object");
    expect((r as { text: string }).text).toBe(text);
    expect((r as { ms: number }).ms).toBe(ms);
  });

  test("keeps sub-millisecond digits in the text and as a fraction of ms", () => {
    const r = parseRfc3339("2024-01-01T00:00:00.123456789Z") as { ms: number; text: string };
    expect(r.text).toBe("2024-01-01T00:00:00.123456789Z");
    expect(r.ms).toBeCloseTo(Date.UTC(2024, 0, 1) + 123.456789, 3);
  });

  test.each([
    ["", "too short"],
    ["2024-05-01", "too short"],
    ["2024-05-01 12:34:56Z", "'T'"],
    ["2024-05-01T12:34:56", "too short"],
    ["2024-05-01T12:34:56.Z", "empty fraction"],
    ["2024-05-01T12:34:56+0200", "offset"],
    ["2024-05-01T12:34:56+02", "offset"],
    ["2024-13-01T12:34:56Z", "month 13"],
    ["2024-00-01T12:34:56Z", "month 0"],
    ["2023-02-29T12:34:56Z", "day 29"],
    ["2024-04-31T12:34:56Z", "day 31"],
    ["2024-05-01T24:00:00Z", "hour 24"],
    ["2024-05-01T12:60:00Z", "minute 60"],
    ["2024-05-01T12:34:61Z", "second 61"],
    ["2024-05-01T12:34:60Z", "23:59:60 UTC"],
    ["2024-05-01T12:34:56+24:00", "offset out of range"],
    ["2024-05-01T12:34:56Zjunk", "after the offset"],
    ["24-05-01T12:34:56Z", "too short"],
    ["2024-5-01T12:34:56Zxx", "digits"],
    ["0000-01-01T00:00:00Z", "0001-01-01"],
    ["2024-05-01T12:34:56.123+1:00", "offset"],
  ])("rejects %p (%s)", (input, hint) => {
    const r = parseRfc3339(input);
    expect(typeof r).toBe("string");
    expect(r as string).toContain(hint);
  });
});

describe("timeFromEpochMs", () => {
  test("formats like toISOString and round-trips through parseRfc3339", () => {
    for (const ms of [0, 1, 999, 1_714_566_896_789, -1, new Date("0001-01-01T00:00:00Z").getTime(), Date.UTC(9999, 11, 31, 23, 59, 59, 999)]) {
      const t = timeFromEpochMs(ms)!;
      expect(t.text).toBe(new Date(ms).toISOString());
      expect((parseRfc3339(t.text) as { ms: number }).ms).toBe(ms);
    }
  });

  test("returns null outside 0001..9999", () => {
    expect(timeFromEpochMs(Date.UTC(10000, 0, 1))).toBeNull();
    expect(timeFromEpochMs(new Date("0000-12-31T23:59:59Z").getTime())).toBeNull();
  });
});
