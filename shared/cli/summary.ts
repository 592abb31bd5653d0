/**
 * The run summary (printed at exit, and as the `--json` line) and the once-a-second live line.
 */
import type { WorkerProgress } from "../runtime/ipc.ts";
import type { GeneratorStatus } from "../runtime/supervisor/local-services.ts";

/** The `--json` summary; field names are part of the CLI contract (benchmarks parse them). */
export interface RunSummary {
  events: number;
  persisted: number;
  duplicates: number;
  invalid: number;
  /** Events a filter stage dropped on purpose (counted, neither stored nor dead-lettered). */
  filtered: number;
  /**
   * Events that never landed: committed ones with no recorded outcome (events - persisted - duplicates -
   * invalid - filtered) plus offsets the broker deleted before they were read (`deleted_before_read`).
   */
  lost: number;
  /** Offsets skipped because retention (or a delete) removed them from the broker before they were read. */
  deleted_before_read: number;
  /** Offsets by which a partition's position moved backwards (truncated log, recreated topic); re-read, not lost. */
  reset_backward: number;
  /** Events delivered again after a backward reset (counted in events; the table dropped them as duplicates). */
  reread: number;
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
    filtered: t.filtered,
    lost: t.events - t.persisted - t.duplicates - t.invalid - t.filtered + t.deletedBeforeRead,
    deleted_before_read: t.deletedBeforeRead,
    reset_backward: t.resetBackward,
    reread: t.reread,
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
  // Only when a filter dropped something, so summaries of pipelines without one stay as they were.
  if (s.filtered > 0) rows.splice(3, 0, ["filtered", s.filtered]);
  // The offset-jump lines appear only when something happened, so a healthy summary stays short.
  if (s.deleted_before_read > 0) rows.push(["deleted before read", s.deleted_before_read]);
  if (s.reset_backward > 0) rows.push(["reset backward", s.reset_backward], ["re-read", s.reread]);
  const width = Math.max(...[s.events, ...rows.map((r) => r[1])].map((n) => num(n).length));
  const label = Math.max(11, ...rows.map((r) => r[0].length));
  return [
    `topofleet ${name}: stopped (${reason})`,
    `  ${"events".padEnd(label)} ${num(s.events).padStart(width)} in ${(s.elapsed_ms / 1000).toFixed(1)} s (${num(s.events_per_min)} events/min)`,
    ...rows.map(([k, v]) => `  ${k.padEnd(label)} ${num(v).padStart(width)}`),
  ].join("\n");
}

/**
 * Prints progress once per call: on a TTY the line is rewritten in place with `\r`; elsewhere (pipes,
 * journald) each call prints a plain line. The events/s figure is the rate since the previous call.
 */
export class LiveLine {
  private last: { events: number; produced: number; at: number } | null = null;
  private drawn = false;

  constructor(
    private readonly out: { write(s: string): unknown },
    private readonly tty: boolean,
  ) {}

  /** Prints the current totals, and the demo generator's rate when one runs. */
  update(t: WorkerProgress, generator: GeneratorStatus | null = null, now = performance.now()): string {
    const produced = generator?.produced ?? 0;
    const perSec = (n: number, before: number) => (this.last && now > this.last.at ? ((n - before) * 1000) / (now - this.last.at) : 0);
    const rate = perSec(t.events, this.last?.events ?? 0);
    const genRate = perSec(produced, this.last?.produced ?? 0);
    this.last = { events: t.events, produced, at: now };
    let line =
      `${num(Math.round(rate))} events/s | events ${num(t.events)} | persisted ${num(t.persisted)} | ` +
      `duplicates ${num(t.duplicates)} | invalid ${num(t.invalid)} | lag ${t.lag < 0 ? "?" : num(t.lag)}`;
    if (t.filtered > 0) line += ` | filtered ${num(t.filtered)}`;
    if (t.deletedBeforeRead > 0) line += ` | deleted before read ${num(t.deletedBeforeRead)}`;
    if (t.resetBackward > 0) line += ` | reset backward ${num(t.resetBackward)} (re-read ${num(t.reread)})`;
    if (generator) line += ` | generator ${num(Math.round(genRate))}/s${generator.held ? " (held back by the pipeline)" : ""}`;
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
