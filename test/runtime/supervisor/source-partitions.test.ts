import { describe, expect, test } from "bun:test";
import { countSubscribedPartitions } from "../../../shared/runtime/supervisor/source-partitions.ts";

const topics = [
  { name: "events", partitions: [0, 1, 2] },
  { name: "events.dlq", partitions: [0] },
  { name: "orders-eu", partitions: [0, 1] },
  { name: "orders-us", partitions: [0, 1, 2, 3] },
];

describe("countSubscribedPartitions", () => {
  test("sums the partitions of named topics", () => {
    expect(countSubscribedPartitions(["events"], topics)).toBe(3);
  });
  test("regex subscriptions match topic names", () => {
    expect(countSubscribedPartitions(["^orders-.*"], topics)).toBe(6);
    expect(countSubscribedPartitions(["events", "^orders-eu$"], topics)).toBe(5);
  });
  test("0 when nothing matches", () => {
    expect(countSubscribedPartitions(["missing"], topics)).toBe(0);
  });
});
