/** The columnar wire format between the stage and its threads round-trips exactly. */
import { describe, expect, test } from "bun:test";
import type { HeaderList } from "../../../shared/stages/batch.ts";
import { packHeaders, unpackTextHeaders } from "../../../shared/stages/enrich/headers.ts";
import { packStrings, unpackStrings } from "../../../shared/stages/enrich/protocol.ts";

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
  test("round-trip per record as text, with null values and records without headers; values are copies", () => {
    const shared = enc.encode("1.0");
    const headers: Array<HeaderList | null> = [
      null,
      [["ce_specversion", shared], ["ce_id", enc.encode("x")], ["content-type", null]],
      null,
      [["trace", enc.encode("abc")]],
    ];
    const packed = packHeaders(headers, 1, 4)!;
    shared[0] = 0x39; // changing the source after packing must not change the packed copy
    const out = unpackTextHeaders(packed, 3);
    expect(out).toEqual([
      [
        ["ce_specversion", "1.0"],
        ["ce_id", "x"],
        ["content-type", null],
      ],
      null,
      [["trace", "abc"]],
    ]);
  });

  test("non-ASCII values are decoded as UTF-8; invalid UTF-8 becomes undefined", () => {
    const packed = packHeaders([[["ce_region", enc.encode("zürich")], ["ce_bad", new Uint8Array([0xff, 0xfe])]]], 0, 1)!;
    expect(unpackTextHeaders(packed, 1)).toEqual([
      [
        ["ce_region", "zürich"],
        ["ce_bad", undefined],
      ],
    ]);
  });

  test("is null when no record of the slice has headers", () => {
    expect(packHeaders([null, null, [["a", null]]], 0, 2)).toBeNull();
  });
});
