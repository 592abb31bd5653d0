/** The dedupe stage's metrics, registered once under the constant names of shared/telemetry/names.ts. */
import type { Counter, Gauge, Metrics } from "../../telemetry/metrics.ts";
import { M } from "../../telemetry/names.ts";
import type { FilterStats } from "./backend.ts";

/** Why an event was dropped as a duplicate (the `reason` label of topofleet_dedupe_duplicates_dropped_total). */
export type DropReason = "in_batch" | "verified" | "filter";

/** Counters and gauges of one dedupe stage, labelled with its name. */
export class DedupeMetrics {
  private readonly maybe: Counter;
  private readonly verified: Counter;
  private readonly dropped: Counter;
  private readonly passed: Counter;
  private readonly fill: Gauge;
  private readonly fp: Gauge;

  constructor(
    m: Metrics,
    private readonly stage: string,
  ) {
    this.maybe = m.counter(M.dedupeMaybeSeen);
    this.verified = m.counter(M.dedupeVerifiedNew);
    this.dropped = m.counter(M.dedupeDropped);
    this.passed = m.counter(M.dedupePassthrough);
    this.fill = m.gauge(M.dedupeFillRatio);
    this.fp = m.gauge(M.dedupeFpRate);
  }

  /** Counts events the filter answered "maybe seen". */
  maybeSeen(n: number): void {
    if (n) this.maybe.inc({ stage: this.stage }, n);
  }

  /** Counts maybe-seen events that verification showed to be new. */
  verifiedNew(n: number): void {
    if (n) this.verified.inc({ stage: this.stage }, n);
  }

  /** Counts events dropped as duplicates. */
  duplicates(reason: DropReason, n: number): void {
    if (n) this.dropped.inc({ stage: this.stage, reason }, n);
  }

  /** Counts events passed on unchecked while Redis was down. */
  passthrough(n: number): void {
    if (n) this.passed.inc({ stage: this.stage }, n);
  }

  /** Publishes a fill sample. */
  filterStats(s: FilterStats): void {
    this.fill.set({ stage: this.stage, window: "current" }, s.maxFillRatio);
    this.fp.set({ stage: this.stage }, s.estimatedFpRate);
  }
}
