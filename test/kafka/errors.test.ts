/** Retriable flags of the group errors a crash recovery meets (no librdkafka needed). */
import { describe, expect, test } from "bun:test";
import { isRetriableName, needsRejoin } from "../../shared/kafka/index.ts";

describe("group membership errors", () => {
  test("a commit refused for a stale generation is retriable, but only after the member rejoined", () => {
    for (const name of ["ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID"]) {
      expect(isRetriableName(name)).toBe(true);
      expect(needsRejoin(name)).toBe(true);
    }
    // A rebalance in progress clears by itself: retried in place.
    expect(isRetriableName("REBALANCE_IN_PROGRESS")).toBe(true);
    expect(needsRejoin("REBALANCE_IN_PROGRESS")).toBe(false);
  });

  test("a fenced static member is not retriable (retrying would fence the other process in turn)", () => {
    expect(isRetriableName("FENCED_INSTANCE_ID")).toBe(false);
    expect(needsRejoin("FENCED_INSTANCE_ID")).toBe(false);
    // Plain transport trouble is retried at once, without a rejoin.
    expect(isRetriableName("_TRANSPORT")).toBe(true);
    expect(needsRejoin("_TRANSPORT")).toBe(false);
  });
});
