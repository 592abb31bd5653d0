import { describe, expect, test } from "bun:test";
import { LiveLine, formatSummary, summarize } from "../../shared/cli/summary.ts";

describe("summarize", () => {
  test("lost = events - persisted - duplicates - invalid; events_per_min from elapsed", () => {
    const s = summarize({ events: 1000, persisted: 900, duplicates: 50, invalid: 40, lag: 0 }, 30_000);
    expect(s).toEqual({ events: 1000, persisted: 900, duplicates: 50, invalid: 40, lost: 10, elapsed_ms: 30_000, events_per_min: 2000 });
  });
  test("formatSummary names every count", () => {
    const text = formatSummary("demo", "max-events", summarize({ events: 20000, persisted: 19500, duplicates: 300, invalid: 200, lag: 0 }, 2000));
    expect(text).toContain("topofleet demo: stopped (max-events)");
    expect(text).toMatch(/events\s+20,000 in 2\.0 s \(600,000 events\/min\)/);
    expect(text).toMatch(/lost\s+0/);
  });
});

describe("LiveLine", () => {
  const totals = (events: number) => ({ events, persisted: events, duplicates: 0, invalid: 0, lag: 7 });

  test("plain lines off a TTY, with the rate since the previous line", () => {
    let out = "";
    const l = new LiveLine({ write: (s: string) => (out += s) }, false);
    l.update(totals(0), 0);
    l.update(totals(5000), 1000);
    l.finish();
    expect(out.split("\n")).toEqual([
      "0 events/s | events 0 | persisted 0 | duplicates 0 | invalid 0 | lag 7",
      "5,000 events/s | events 5,000 | persisted 5,000 | duplicates 0 | invalid 0 | lag 7",
      "",
    ]);
  });

  test("rewritten in place on a TTY, newline on finish", () => {
    let out = "";
    const l = new LiveLine({ write: (s: string) => (out += s) }, true);
    l.update(totals(1), 0);
    l.update({ ...totals(2), lag: -1 }, 500);
    l.finish();
    expect(out.startsWith("\r")).toBe(true);
    expect(out.split("\r").length).toBe(3);
    expect(out).toContain("lag ?");
    expect(out.endsWith("\n")).toBe(true);
    expect(out.slice(0, -1)).not.toContain("\n");
  });
});
