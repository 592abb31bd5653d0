/** "did you mean" suggestions. */
import { describe, expect, test } from "bun:test";
import { closest, editDistance } from "../../shared/config/suggest.ts";

describe("suggestions", () => {
  test("edit distance", () => {
    expect(editDistance("maxWiat", "maxWait")).toBe(2);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("same", "same")).toBe(0);
  });

  test("typos, case and snake_case map to the closest key; unrelated words get no suggestion", () => {
    const keys = ["maxEvents", "maxBytes", "maxWait"];
    expect(closest("maxEvnts", keys)).toBe("maxEvents");
    expect(closest("max_wait", keys)).toBe("maxWait");
    expect(closest("MAXBYTES", keys)).toBe("maxBytes");
    expect(closest("retries", keys)).toBeUndefined();
  });
});
