/**
 * The run summary (printed at exit, and as the `--json` line) and the once-a-second live line.
 */
import type { WorkerProgress } from "../runtime/ipc.ts";

/** The `--json` summary; field names are part of the CLI contract (benchmarks parse them). */
export interface RunSummary {
  events: number;
  persisted: number;
  duplicates: number;
  invalid: number;
  /** events - persisted - duplicates - invalid: events counted as consumed but with no recorded outcome. */
  lost: number;
  elapsed_ms: number;
  events_per_min: number;
}

/** Builds the summary from fleet totals and the run's wall time. */
export function summarize(t: WorkerProgress, elapsedMs: number): RunSummary {
  const ms = Math.max(0, Math.round(elapsedMs));
  return {
    events: t.events,
    persisted: t.persisted,
    duplicates: t.duplicates,
    invalid: t.invalid,
    lost: t.events - t.persisted - t.duplicates - t.invalid,
    elapsed_ms: ms,
    events_per_min: ms > 0 ? Math.round((t.events * 60_000) / ms) : 0,
  };
}

const num = (n: number): string => n.toLocaleString("en-US");

/** Human summary, several lines. */
export function formatSummary(name: string, reason: string, s: RunSummary): string {
  const rows: Array<[string, number]> = [
    ["persisted", s.persisted],
    ["duplicates", s.duplicates],
    ["invalid", s.invalid],
    ["lost", s.lost],
  ];
  const width = Math.max(...[s.events, ...rows.map((r) => r[1])].map((n) => num(n).length));
  return [
    `topofleet ${name}: stopped (${reason})`,
    `  events      ${num(s.events).padStart(width)} in ${(s.elapsed_ms / 1000).toFixed(1)} s (${num(s.events_per_min)} events/min)`,
    ...rows.map(([k, v]) => `  ${k.padEnd(11)} ${num(v).padStart(width)}`),
  ].join("\n");
}

/**
 * Prints progress once per call: on a TTY the line is rewritten in place with `\r`; elsewhere (pipes,
 * journald) each call prints a plain line. The events/s figure is the rate since the previous call.
 */
export class LiveLine {
  private last: { events: number; at: number } | null = null;
  private drawn = false;

  constructor(
    private readonly out: { write(s: string): unknown },
    private readonly tty: boolean,
  ) {}

  /** Prints the current totals. */
  update(t: WorkerProgress, now = performance.now()): string {
    const rate = this.last && now > this.last.at ? ((t.events - this.last.events) * 1000) / (now - this.last.at) : 0;
    this.last = { events: t.events, at: now };
    const line =
      `${num(Math.round(rate))} events/s | events ${num(t.events)} | persisted ${num(t.persisted)} | ` +
      `duplicates ${num(t.duplicates)} | invalid ${num(t.invalid)} | lag ${t.lag < 0 ? "?" : num(t.lag)}`;
    if (this.tty) {
      this.out.write(`\r\x1b[2K${line}`);
      this.drawn = true;
    } else this.out.write(`${line}\n`);
    return line;
  }

  /** Ends a rewritten TTY line so whatever prints next starts on a fresh line. */
  finish(): void {
    if (this.drawn) this.out.write("\n");
    this.drawn = false;
  }
}
