/** Commit metadata with cumulative tallies: encoding, and the ledger's base / acknowledged positions. */
import { describe, expect, test } from "bun:test";
import { decodeTally, encodeTally, PartitionLedger } from "../../../shared/runtime/engine/partition-ledger.ts";

const tally = (events: number, persisted: number, duplicates: number, invalid: number, filtered = 0) => ({ events, persisted, duplicates, invalid, filtered });

describe("commit metadata", () => {
  test("round-trips a tally; foreign or malformed metadata is no tally", () => {
    expect(encodeTally(tally(10, 7, 2, 1))).toBe("tf1:10,7,2,1");
    expect(decodeTally("tf1:10,7,2,1")).toEqual(tally(10, 7, 2, 1));
    for (const bad of [undefined, "", "written by another tool", "tf1:1,2,3", "tf1:1,2,x,4", "tf1:-1,0,0,0", "tf1:1.5,0,0,0", "tf1:1,0,0,0,1,1"]) expect(decodeTally(bad)).toBeNull();
  });

  test("a filtered count is a fifth number, written only when non-zero, so older metadata reads as none filtered", () => {
    expect(encodeTally(tally(10, 6, 2, 1, 1))).toBe("tf1:10,6,2,1,1");
    expect(decodeTally("tf1:10,6,2,1,1")).toEqual(tally(10, 6, 2, 1, 1));
    expect(decodeTally("tf1:10,7,2,1")).toEqual(tally(10, 7, 2, 1, 0));
  });
});

describe("PartitionLedger", () => {
  const tp = { topic: "t", partition: 3 };

  test("commits carry the base read at assignment plus everything acknowledged since", () => {
    const l = new PartitionLedger();
    expect(l.metadataFor(tp, tally(1, 1, 0, 0))).toBeUndefined();
    l.assigned({ ...tp, offset: 500, metadata: "tf1:500,490,8,2" });
    expect(l.metadataFor(tp, tally(100, 95, 5, 0))).toBe("tf1:600,585,13,2");
    // A failed commit changes nothing: the next one carries the same tally again (from the offset tracker).
    l.acknowledged(tp, 600, tally(100, 95, 5, 0));
    expect(l.metadataFor(tp, tally(50, 50, 0, 0))).toBe("tf1:650,635,13,2");
    expect(l.report()).toEqual([{ ...tp, base: { offset: 500, tally: tally(500, 490, 8, 2) }, committed: { offset: 600, tally: tally(600, 585, 13, 2) } }]);
  });

  test("a new group starts from zero; a partition assigned back takes the fresh committed position, keeping its first base", () => {
    const l = new PartitionLedger();
    l.assigned({ ...tp, offset: -1001 });
    l.acknowledged(tp, 40, tally(40, 40, 0, 0));
    l.assigned({ ...tp, offset: 90, metadata: "tf1:90,88,2,0" });
    const [r] = l.report();
    expect(r.base).toEqual({ offset: -1001, tally: tally(0, 0, 0, 0) });
    expect(r.committed).toEqual({ offset: 90, tally: tally(90, 88, 2, 0) });
  });
});
