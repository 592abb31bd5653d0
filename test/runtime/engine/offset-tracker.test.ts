import { describe, expect, test } from "bun:test";
import { OffsetTracker, emptyTally, type Tally } from "../../../shared/runtime/engine/offset-tracker.ts";

const P0 = { topic: "t", partition: 0 };
const P1 = { topic: "t", partition: 1 };
const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const tally = (events: number, persisted = events, duplicates = 0, invalid = 0): Tally => ({ events, persisted, duplicates, invalid, filtered: 0 });

/** Takes commits and acknowledges them all; returns partition -> committed offset. */
function commitAll(t: OffsetTracker): Map<number, number> {
  const out = new Map<number, number>();
  for (const c of t.takeCommits()) {
    t.committed(c);
    out.set(c.partition, c.offset);
  }
  return out;
}

describe("OffsetTracker", () => {
  test("commits last processed + 1 after an in-order completion", () => {
    const t = new OffsetTracker();
    t.assign(P0);
    const h = t.track(P0, range(0, 9))!;
    expect(t.takeCommits()).toEqual([]);
    t.complete(h, tally(10));
    const [c] = t.takeCommits();
    expect(c.offset).toBe(10);
    expect(c.tally).toEqual(tally(10));
    expect(t.committed(c)).toEqual(tally(10));
    expect(t.takeCommits()).toEqual([]);
  });

  test("a gap (an unfinished earlier batch) holds back later finished batches", () => {
    const t = new OffsetTracker();
    t.assign(P0);
    const a = t.track(P0, range(0, 4))!;
    const b = t.track(P0, range(5, 9))!;
    const c = t.track(P0, range(10, 14))!;
    t.complete(b, tally(5));
    t.complete(c, tally(5));
    expect(t.takeCommits()).toEqual([]);
    t.complete(a, tally(5));
    const [commit] = t.takeCommits();
    expect(commit.offset).toBe(15);
    expect(commit.tally.events).toBe(15);
  });

  test("out-of-order completion advances only through the contiguous prefix", () => {
    const t = new OffsetTracker();
    t.assign(P0);
    const hs = [0, 1, 2, 3].map((i) => t.track(P0, range(i * 10, i * 10 + 9))!);
    t.complete(hs[0], tally(10));
    t.complete(hs[2], tally(10));
    expect(commitAll(t).get(0)).toBe(10);
    t.complete(hs[3], tally(10));
    expect(commitAll(t).size).toBe(0);
    t.complete(hs[1], tally(10));
    expect(commitAll(t).get(0)).toBe(40);
  });

  test("contiguity is over delivered offsets: compaction / transaction holes never stall", () => {
    const t = new OffsetTracker();
    t.assign(P0);
    // Offsets 3, 4 and 8..11 were never delivered (compacted away / transaction markers).
    const a = t.track(P0, [0, 1, 2, 5])!;
    const b = t.track(P0, [6, 7, 12, 15])!;
    t.complete(b, tally(4));
    expect(t.takeCommits()).toEqual([]);
    t.complete(a, tally(4));
    expect(commitAll(t).get(0)).toBe(16);
  });

  test("partitions are independent", () => {
    const t = new OffsetTracker();
    t.assign(P0);
    t.assign(P1);
    const a = t.track(P0, range(0, 4))!;
    const b = t.track(P1, range(100, 104))!;
    t.complete(b, tally(5));
    const m = commitAll(t);
    expect(m.get(1)).toBe(105);
    expect(m.has(0)).toBe(false);
    t.complete(a, tally(5));
    expect(commitAll(t).get(0)).toBe(5);
  });

  test("revocation resets: stale handles cannot complete or commit, even after re-assignment", () => {
    const t = new OffsetTracker();
    t.assign(P0);
    const done = t.track(P0, range(0, 9))!;
    const abandoned = t.track(P0, range(10, 19))!;
    t.complete(done, tally(10));
    t.revoke(P0);
    expect(t.owns(P0)).toBe(false);
    expect(t.takeCommits()).toEqual([]);
    expect(t.track(P0, [20])).toBeNull();
    // Re-assigned from the group's committed offset 10: the abandoned batch is re-delivered.
    t.assign(P0, 10);
    expect(t.complete(abandoned, tally(10))).toBe(false);
    expect(t.takeCommits()).toEqual([]);
    const again = t.track(P0, range(10, 19))!;
    t.complete(again, tally(10, 4, 6));
    const [c] = t.takeCommits();
    expect(c.offset).toBe(20);
    expect(c.tally).toEqual(tally(10, 4, 6));
  });

  test("re-assignment from a committed offset does not commit the unchanged position", () => {
    const t = new OffsetTracker();
    t.assign(P0, 100);
    expect(t.committedOffset(P0)).toBe(100);
    expect(t.takeCommits()).toEqual([]);
    const h = t.track(P0, range(100, 149))!;
    t.complete(h, tally(50));
    expect(commitAll(t).get(0)).toBe(150);
    expect(t.committedOffset(P0)).toBe(150);
  });

  test("a rewind (re-delivery of lower offsets) never moves the commit backwards", () => {
    const t = new OffsetTracker();
    t.assign(P0);
    const a = t.track(P0, range(10, 20))!;
    t.complete(a, tally(11));
    expect(commitAll(t).get(0)).toBe(21);
    const b = t.track(P0, range(15, 20))!;
    t.complete(b, tally(6, 0, 6));
    expect(commitAll(t).size).toBe(0);
    const c = t.track(P0, range(21, 25))!;
    t.complete(c, tally(5));
    const [commit] = t.takeCommits();
    expect(commit.offset).toBe(26);
    // The re-delivered segment's tally rides along with the next real advance.
    expect(commit.tally).toEqual(tally(11, 5, 6));
  });

  test("after rewind() (a backward reset) the lower position commits and counts at once", () => {
    const t = new OffsetTracker();
    t.assign(P0);
    const a = t.track(P0, range(100, 109))!;
    t.complete(a, tally(10));
    expect(commitAll(t).get(0)).toBe(110);
    t.rewind(P0);
    const b = t.track(P0, range(0, 4))!;
    t.complete(b, tally(5, 0, 5));
    const [c] = t.takeCommits();
    expect(c.offset).toBe(5);
    expect(c.tally).toEqual(tally(5, 0, 5));
    t.committed(c);
    const d = t.track(P0, range(5, 9))!;
    t.complete(d, tally(5));
    expect(commitAll(t).get(0)).toBe(10);
  });

  test("a rewind with an older segment still open: the old commit goes first, its late ack does not block the new epoch", () => {
    const t = new OffsetTracker();
    t.assign(P0);
    const old = t.track(P0, range(100, 109))!;
    t.rewind(P0);
    const fresh = t.track(P0, range(0, 4))!;
    t.complete(old, tally(10));
    const [oldCommit] = t.takeCommits();
    expect(oldCommit.offset).toBe(110);
    t.complete(fresh, tally(5));
    t.committed(oldCommit);
    const [c] = t.takeCommits();
    expect(c.offset).toBe(5);
    expect(c.tally).toEqual(tally(5));
  });

  test("one commit in flight per partition; a failed commit's tally rides with the next one", () => {
    const t = new OffsetTracker();
    t.assign(P0);
    const a = t.track(P0, range(0, 9))!;
    const b = t.track(P0, range(10, 19))!;
    t.complete(a, tally(10));
    const [first] = t.takeCommits();
    expect(first.offset).toBe(10);
    expect(t.hasCommitInFlight()).toBe(true);
    t.complete(b, tally(10));
    expect(t.takeCommits()).toEqual([]); // coalesced: waits for the outstanding commit
    t.commitFailed(first);
    expect(t.hasCommitInFlight()).toBe(false);
    const [second] = t.takeCommits();
    expect(second.offset).toBe(20);
    expect(second.tally.events).toBe(20);
    expect(t.committed(second).events).toBe(20);
  });

  test("takeCommits can be limited to some partitions (revocation commits only the revoked ones)", () => {
    const t = new OffsetTracker();
    t.assign(P0);
    t.assign(P1);
    t.complete(t.track(P0, [0])!, tally(1));
    t.complete(t.track(P1, [0])!, tally(1));
    const cs = t.takeCommits([P1]);
    expect(cs.map((c) => c.partition)).toEqual([1]);
    expect(t.takeCommits().map((c) => c.partition)).toEqual([0]);
  });

  test("completing a segment twice is an engine bug and throws", () => {
    const t = new OffsetTracker();
    t.assign(P0);
    const h = t.track(P0, [0])!;
    t.complete(h, emptyTally());
    expect(() => t.complete(h, emptyTally())).toThrow(/not open/);
  });

  test("open segments are counted per partition", () => {
    const t = new OffsetTracker();
    t.assign(P0);
    const a = t.track(P0, [0, 1])!;
    t.track(P0, [2])!;
    expect(t.openSegments(P0)).toBe(2);
    t.complete(a, tally(2));
    expect(t.openSegments(P0)).toBe(1);
    expect(t.openSegments(P1)).toBe(0);
  });
});
