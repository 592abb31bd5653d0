/**
 * Bounded-cardinality tenant labels for metrics. Tenant ids are untrusted input, so a label per tenant would let
 * one producer grow the metrics without bound. The busiest tenants are tracked with a space-saving sketch of
 * 4 x top entries; a tenant is named in the metrics while it is among the sketch's `top` largest counts, and at
 * most 2 x top tenants are ever named (a churn of heavy tenants cannot grow the series either). Every other event
 * is counted under "other".
 */

/** The label of tenants not named. */
export const OTHER = "other";

const RANKING_EVERY = 64;

/** Assigns metric labels to tenants (see the module comment). */
export class TenantLabels {
  private readonly counts = new Map<string, number>();
  private readonly named = new Set<string>();
  private topNow = new Set<string>();
  private updates = 0;

  constructor(private readonly top: number) {}

  /** Counts `n` events of `tenant` and returns its label. */
  label(tenant: string, n: number): string {
    if (this.top === 0) return OTHER;
    this.count(tenant, n);
    if (this.named.has(tenant)) return tenant;
    if (this.named.size >= 2 * this.top) return OTHER;
    // A tenant not named yet may be due a name: rank at once for newcomers to the sketch, else now and then.
    if (++this.updates % RANKING_EVERY === 1 || !this.topNow.has(tenant)) this.rank();
    if (this.topNow.has(tenant)) {
      this.named.add(tenant);
      return tenant;
    }
    return OTHER;
  }

  private count(tenant: string, n: number): void {
    const c = this.counts.get(tenant);
    if (c !== undefined) {
      this.counts.set(tenant, c + n);
      return;
    }
    if (this.counts.size < 4 * this.top) {
      this.counts.set(tenant, n);
      return;
    }
    // Space-saving: the newcomer takes the place of the smallest entry and inherits its count (an over-estimate).
    let minKey = "";
    let min = Infinity;
    for (const [k, v] of this.counts) if (v < min) [minKey, min] = [k, v];
    this.counts.delete(minKey);
    this.counts.set(tenant, min + n);
  }

  private rank(): void {
    this.topNow = new Set([...this.counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, this.top).map(([k]) => k));
  }
}
