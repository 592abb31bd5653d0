/**
 * The fleet's own counters over a bench run, scraped from its /metrics every second (the last scrape before
 * it exits counts): batches and their mean size, offset commits, persist conflicts, dedupe verifications.
 * Per-batch costs (pause/resume, round trips to Redis and PostgreSQL, a commit) are spread over the batch,
 * so a run whose batches came out smaller pays more CPU per event; this shows whether that happened.
 */

/** Sums every sample of `name` (all label sets) whose labels contain `labelFilter` in a Prometheus text. */
export function sumMetric(text: string, name: string, labelFilter = ""): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== "{" && rest[0] !== " ") continue;
    if (labelFilter && !rest.includes(labelFilter)) continue;
    const v = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (Number.isFinite(v)) sum += v;
  }
  return sum;
}

/** What the bench reports from the fleet's counters. */
export interface FleetCounters {
  batches: number;
  mean_batch_events: number | null;
  mean_batch_ms: number | null;
  commits: number;
  persist_conflicts: number;
}

/** Scrapes http://127.0.0.1:<port>/metrics every second until stopped. */
export class MetricsScraper {
  private last = "";
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly port: number) {}

  /** Starts scraping; returns this. */
  start(intervalMs = 1000): this {
    this.timer = setInterval(() => {
      fetch(`http://127.0.0.1:${this.port}/metrics`)
        .then((r) => (r.ok ? r.text() : ""))
        .then((t) => {
          if (t) this.last = t;
        })
        .catch(() => undefined);
    }, intervalMs);
    return this;
  }

  /** Stops; the counters of the last scrape (null when none succeeded). */
  stop(): FleetCounters | null {
    if (this.timer) clearInterval(this.timer);
    if (!this.last) return null;
    const t = this.last;
    const batches = sumMetric(t, "topofleet_batch_duration_seconds_count", 'stage="pipeline"');
    const seconds = sumMetric(t, "topofleet_batch_duration_seconds_sum", 'stage="pipeline"');
    const events = sumMetric(t, "topofleet_source_events_total");
    return {
      batches,
      mean_batch_events: batches > 0 ? Math.round(events / batches) : null,
      mean_batch_ms: batches > 0 ? Math.round((seconds * 1000) / batches) : null,
      commits: sumMetric(t, "topofleet_offset_commits_total"),
      persist_conflicts: sumMetric(t, "topofleet_persist_rows_total", 'outcome="conflict"'),
    };
  }
}
