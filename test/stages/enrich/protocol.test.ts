/** The columnar wire format between the stage and its threads round-trips exactly. */
import { describe, expect, test } from "bun:test";
import type { HeaderList } from "../../../shared/stages/batch.ts";
import { packHeaders, packStrings, unpackHeaders, unpackStrings } from "../../../shared/stages/enrich/protocol.ts";

describe("packed strings", () => {
  test("round-trip with nulls, empty strings and non-ASCII text at an offset", () => {
    const values = ["a", null, "", "héllo\u0000\t😀", "z".repeat(1000), null];
    const packed = packStrings(values);
    expect(packed.text).toBe(values.filter((v) => v !== null).join(""));
    const out: Array<string | null> = new Array(8).fill("untouched");
    unpackStrings(packed, out, 2);
    expect(out).toEqual(["untouched", "untouched", ...values]);
  });
});

describe("packed headers", () => {
  const enc = new TextEncoder();
  test("round-trip per record, with null values and records without headers; values are copies", () => {
    const shared = enc.encode("1.0");
    const headers: Array<HeaderList | null> = [
      null,
      [["ce_specversion", shared], ["ce_id", enc.encode("x")], ["content-type", null]],
      null,
      [["trace", enc.encode("ünïcode")]],
    ];
    const packed = packHeaders(headers, 1, 4)!;
    shared[0] = 0x39; // changing the source after packing must not change the packed copy
    const out = unpackHeaders(packed, 3);
    expect(out[1]).toBeNull();
    expect(out[0]!.map(([n, v]) => [n, v && new TextDecoder().decode(v)])).toEqual([
      ["ce_specversion", "1.0"],
      ["ce_id", "x"],
      ["content-type", null],
    ]);
    expect(new TextDecoder().decode(out[2]![0][1]!)).toBe("ünïcode");
  });

  test("is null when no record of the slice has headers", () => {
    expect(packHeaders([null, null, [["a", null]]], 0, 2)).toBeNull();
  });
});
