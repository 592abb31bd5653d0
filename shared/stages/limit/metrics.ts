/** The limit stage's metrics, registered under the names of shared/telemetry/names.ts, tenants labelled by TenantLabels. */
import type { Counter, Gauge, Metrics } from "../../telemetry/metrics.ts";
import { M } from "../../telemetry/names.ts";
import { TenantLabels } from "./tenant-labels.ts";

/** What happened to events at the limit stage (the `outcome` label). */
export type LimitOutcome = "admitted" | "delayed" | "rate_limited" | "quota_exceeded" | "delay_too_long" | "passed_over" | "passthrough";

/** Counters of one limit stage. */
export class LimitMetrics {
  private readonly events: Counter;
  private readonly calls: Counter;
  private readonly heldGauge: Gauge;
  private readonly labels: TenantLabels;

  constructor(
    m: Metrics,
    private readonly stage: string,
    topTenants: number,
  ) {
    this.events = m.counter(M.limitEvents);
    this.calls = m.counter(M.limitRedisCalls);
    this.heldGauge = m.gauge(M.limitHeld);
    this.labels = new TenantLabels(topTenants);
  }

  /** Counts `n` events of `tenant` with `outcome`. */
  count(tenant: string, outcome: LimitOutcome, n: number): void {
    if (n > 0) this.events.inc({ stage: this.stage, tenant: this.labels.label(tenant, n), outcome }, n);
  }

  /** Counts one script call. */
  call(ok: boolean): void {
    this.calls.inc({ stage: this.stage, outcome: ok ? "ok" : "failed" });
  }

  /** Publishes the number of events held. */
  held(n: number): void {
    this.heldGauge.set({ stage: this.stage }, n);
  }
}
