import { describe, expect, test } from "bun:test";
import { LiveLine, formatSummary, summarize } from "../../shared/cli/summary.ts";

describe("summarize", () => {
  const jumps = { deletedBeforeRead: 0, resetBackward: 0, reread: 0 };
  test("lost = events - persisted - duplicates - invalid; events_per_min from elapsed", () => {
    const s = summarize({ events: 1000, persisted: 900, duplicates: 50, invalid: 40, filtered: 0, lag: 0, ...jumps }, 30_000);
    expect(s).toEqual({
      events: 1000,
      persisted: 900,
      duplicates: 50,
      invalid: 40,
      filtered: 0,
      lost: 10,
      deleted_before_read: 0,
      reset_backward: 0,
      reread: 0,
      elapsed_ms: 30_000,
      events_per_min: 2000,
    });
  });
  test("offsets deleted before they were read count as lost, and the summary names them", () => {
    const s = summarize({ events: 100, persisted: 100, duplicates: 0, invalid: 0, filtered: 0, lag: 0, deletedBeforeRead: 25, resetBackward: 40, reread: 40 }, 1000);
    expect(s.lost).toBe(25);
    expect(s.deleted_before_read).toBe(25);
    const text = formatSummary("demo", "signal SIGINT", s);
    expect(text).toMatch(/lost\s+25/);
    expect(text).toMatch(/deleted before read\s+25/);
    expect(text).toMatch(/reset backward\s+40/);
    expect(text).toMatch(/re-read\s+40/);
    expect(formatSummary("demo", "x", summarize({ ...s, ...jumps, events: 1, persisted: 1, duplicates: 0, invalid: 0, filtered: 0, lag: 0 }, 1))).not.toContain("deleted");
  });
  test("filtered events are accounted, not lost, and named only when a filter dropped some", () => {
    const s = summarize({ events: 100, persisted: 70, duplicates: 5, invalid: 5, filtered: 20, lag: 0, ...jumps }, 1000);
    expect(s.filtered).toBe(20);
    expect(s.lost).toBe(0);
    expect(formatSummary("demo", "x", s)).toMatch(/filtered\s+20/);
    expect(formatSummary("demo", "x", { ...s, filtered: 0 })).not.toContain("filtered");
  });
  test("formatSummary names every count", () => {
    const text = formatSummary("demo", "max-events", summarize({ events: 20000, persisted: 19500, duplicates: 300, invalid: 200, filtered: 0, lag: 0, ...jumps }, 2000));
    expect(text).toContain("topofleet demo: stopped (max-events)");
    expect(text).toMatch(/events\s+20,000 in 2\.0 s \(600,000 events\/min\)/);
    expect(text).toMatch(/lost\s+0/);
  });
});

describe("LiveLine", () => {
  const totals = (events: number) => ({ events, persisted: events, duplicates: 0, invalid: 0, filtered: 0, lag: 7, deletedBeforeRead: 0, resetBackward: 0, reread: 0 });

  test("plain lines off a TTY, with the rate since the previous line", () => {
    let out = "";
    const l = new LiveLine({ write: (s: string) => (out += s) }, false);
    l.update(totals(0), null, 0);
    l.update(totals(5000), null, 1000);
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
    l.update(totals(1), null, 0);
    l.update({ ...totals(2), lag: -1 }, null, 500);
    l.finish();
    expect(out.startsWith("\r")).toBe(true);
    expect(out.split("\r").length).toBe(3);
    expect(out).toContain("lag ?");
    expect(out.endsWith("\n")).toBe(true);
    expect(out.slice(0, -1)).not.toContain("\n");
  });

  test("shows the generator's rate and when the pipeline holds it back", () => {
    const l = new LiveLine({ write: () => {} }, false);
    l.update(totals(0), { produced: 0, held: false, backlogLimit: 10 }, 0);
    expect(l.update(totals(900), { produced: 1000, held: true, backlogLimit: 10 }, 1000)).toEndWith("| generator 1,000/s (held back by the pipeline)");
    expect(l.update(totals(1900), { produced: 2000, held: false, backlogLimit: 10 }, 2000)).toEndWith("| generator 1,000/s");
  });

  test("names offsets deleted before read and backward resets", () => {
    const l = new LiveLine({ write: () => {} }, false);
    const line = l.update({ ...totals(5), deletedBeforeRead: 3, resetBackward: 2, reread: 2 }, null, 0);
    expect(line).toContain("| deleted before read 3 | reset backward 2 (re-read 2)");
  });
});
