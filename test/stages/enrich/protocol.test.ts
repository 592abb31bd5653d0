/** The formats between the stage and its threads, and the headers' wire form, round-trip exactly. */
import { describe, expect, test } from "bun:test";
import type { HeaderList } from "../../../shared/stages/batch.ts";
import { unpackTextHeaders } from "../../../shared/stages/enrich/headers.ts";
import { sliceTask } from "../../../shared/stages/enrich/slices.ts";
import { packRecords, recordHeaders, type RecordInput } from "../../../shared/stages/records.ts";
import { decodeWireHeaders, wireHeadersSize, writeWireHeaders } from "../../../shared/kafka/wire-headers.ts";
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

describe("headers from the batch to the thread", () => {
  const enc = new TextEncoder();
  const rec = (offset: number, headers: HeaderList | null): RecordInput => ({ topic: "t", partition: 0, offset, value: "{}", headers });
  const threadHeaders = (records: RecordInput[], start: number, end: number) => {
    const { task } = sliceTask(packRecords(records), new Uint8Array(records.length), { start, end }, 0, null);
    return task.headers ? unpackTextHeaders(task.headers, end - start) : null;
  };

  test("round-trip per record as text, with null values and records without headers; values are copies", () => {
    const shared = enc.encode("1.0");
    const records = [
      rec(0, null),
      rec(1, [["ce_specversion", shared], ["ce_id", enc.encode("x")], ["content-type", null]]),
      rec(2, null),
      rec(3, [["trace", enc.encode("abc")]]),
    ];
    const batch = packRecords(records);
    shared[0] = 0x39; // changing the source after packing must not change the packed copy
    const { task } = sliceTask(batch, new Uint8Array(4), { start: 1, end: 4 }, 0, null);
    expect(unpackTextHeaders(task.headers!, 3)).toEqual([
      [
        ["ce_specversion", "1.0"],
        ["ce_id", "x"],
        ["content-type", null],
      ],
      null,
      [["trace", "abc"]],
    ]);
    // The thread reads the batch's own (shared) bytes: nothing of them was copied for the slice.
    expect(task.headers!.bytes.buffer).toBe(batch.headerBytes.buffer);
    expect(task.values.buffer).toBe(batch.values.buffer);
  });

  test("non-ASCII names and values are decoded as UTF-8; invalid UTF-8 values become undefined; long values", () => {
    const long = "v".repeat(300); // a length varint of two bytes
    expect(threadHeaders([rec(0, [["ce_région", enc.encode("zürich")], ["ce_bad", new Uint8Array([0xff, 0xfe])], ["ce_long", enc.encode(long)]])], 0, 1)).toEqual([
      [
        ["ce_région", "zürich"],
        ["ce_bad", undefined],
        ["ce_long", long],
      ],
    ]);
  });

  test("no headers in the task when no record of the slice has any", () => {
    expect(threadHeaders([rec(0, null), rec(1, []), rec(2, [["a", null]])], 0, 2)).toBeNull();
  });

  test("the main thread decodes one record's headers on demand, byte for byte", () => {
    const bin = new Uint8Array([0, 1, 0xff, 0x80]);
    const batch = packRecords([rec(0, [["a", bin], ["b", null], ["é", enc.encode("")]]), rec(1, null)]);
    expect(recordHeaders(batch, 0)).toEqual([
      ["a", bin],
      ["b", null],
      ["é", new Uint8Array(0)],
    ]);
    expect(recordHeaders(batch, 1)).toBeNull();
  });
});

describe("wire headers", () => {
  test("encode and decode are inverse, and truncated or corrupt blocks do not decode", () => {
    const h: Array<[string, Uint8Array | null]> = [
      ["x".repeat(200), new Uint8Array(70000).fill(7)],
      ["", null],
      ["ü", new Uint8Array(0)],
    ];
    const size = wireHeadersSize(h);
    const b = new Uint8Array(size + 3);
    expect(writeWireHeaders(h, b, 3)).toBe(size + 3);
    expect(decodeWireHeaders(b, 3, size + 3)).toEqual(h);
    expect(decodeWireHeaders(b, 3, size + 2)).toBeUndefined();
    expect(decodeWireHeaders(new Uint8Array([0x02, 0x7f]), 0, 2)).toBeUndefined(); // a name longer than the block
    expect(decodeWireHeaders(new Uint8Array([0x00]), 0, 1)).toBeNull(); // count 0
    expect(decodeWireHeaders(new Uint8Array([0x01]), 0, 1)).toBeNull(); // count -1
    expect(wireHeadersSize([])).toBe(0);
  });
});
