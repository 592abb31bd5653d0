/** Human explanation of a resolved topology: redacted configuration, parallelism checks, and what bounds throughput. */
import { filterCapacity, filterMemoryBytes } from "../stages/dedupe/sizing.ts";
import { availableParallelism } from "node:os";
import { stringify } from "yaml";
import { activeReplicas, bottleneck, k, stageCeilings } from "./capacity.ts";
import { redactTopology } from "./redact.ts";
import { redactUrl } from "../config/secrets.ts";
import type { LimitStageConfig, ResolvedTopology } from "./types.ts";
import { formatDuration, formatSize } from "../config/units.ts";

/** Facts explain cannot know from the file: the topic's partition count and this machine's cores. */
export interface ExplainFacts {
  partitions?: number;
  cores?: number;
}

/** Explains `t` for humans (secrets redacted). */
export function explainTopology(t: ResolvedTopology, facts: ExplainFacts = {}): string {
  const partitions = facts.partitions ?? (t.source.kind === "mock" ? t.source.partitions : undefined);
  const cores = facts.cores ?? availableParallelism();
  const lines: string[] = [`Topology \`${t.name}\` (${t.file})`, ""];
  lines.push("Resolved configuration (secrets redacted):");
  lines.push(indent(stringify(redactTopology(t), { lineWidth: 0 }).trimEnd()), "");
  lines.push("Parallelism:", ...parallelism(t, partitions, cores).map((l) => `  - ${l}`), "");
  lines.push("What bounds throughput:", ...throughput(t, partitions, cores).map((l) => `  ${l}`));
  if (t.warnings.length > 0) lines.push("", "Warnings:", ...t.warnings.map((w) => `  - ${w}`));
  return `${lines.join("\n")}\n`;
}

function parallelism(t: ResolvedTopology, partitions: number | undefined, cores: number): string[] {
  const out: string[] = [];
  const r = t.concurrency.replicas;
  const replicas = r.min === r.max ? `${r.max} replica(s), fixed` : `${r.min}..${r.max} replicas, autoscaled at ${r.lagPerReplica} lag per replica`;
  const src = t.source.kind === "kafka" ? `Kafka ${t.source.brokers}` : `mock cluster (${t.source.brokers} broker(s))`;
  out.push(`Source: ${src}, topics ${t.source.topics.join(", ")}, group ${t.source.group}; ${replicas}.`);
  if (partitions === undefined) {
    out.push("Partitions: unknown (cluster not queried); a consumer group never uses more members than partitions.");
  } else if (r.max > partitions) {
    out.push(`WARNING: up to ${r.max} replicas but ${partitions} partition(s): ${r.max - partitions} replica(s) would sit idle. Add partitions or lower replicas.max.`);
  } else {
    out.push(`Partitions: ${partitions} for at most ${r.max} replica(s): ${(partitions / r.max).toFixed(1)} partition(s) per replica.`);
  }
  const enrich = t.stages.find((s) => s.kind === "enrich");
  if (enrich) {
    // Each worker also needs its main thread for Kafka, Redis and PostgreSQL I/O.
    const perWorker = enrich.threads + 1;
    const busy = perWorker * activeReplicas(t, partitions);
    const verdict = busy > cores ? `WARNING: oversubscribed (${busy} busy threads for ${cores} cores); lower threads or replicas` : "fits";
    out.push(`Enrich: ${enrich.threads} thread(s) per worker + 1 main thread = ${perWorker} per worker; ${cores} core(s) on this machine: ${verdict}.`);
  }
  const b = t.batch;
  const inflight = t.concurrency.inFlightBatches;
  out.push(
    `Batches: up to ${b.maxEvents} events or ${formatSize(b.maxBytes)}, closed after ${formatDuration(b.maxWaitMs)}; ` +
      `${inflight} in flight per worker, so up to ${b.maxEvents * inflight} events (${formatSize(b.maxBytes * inflight)}) buffered per worker.`,
  );
  for (const s of t.stages) {
    if (s.kind === "dedupe") {
      out.push(
        `Dedupe: ${s.backend}${s.backend === "redis" ? ` (${s.redisMode})` : ""}, ${s.expectedPerWindow} keys per ${formatDuration(s.windowMs)} window at ` +
          `${s.falsePositiveRate} false positives, maybe-seen -> ${s.onMaybeSeen}, Redis down -> ${s.onRedisDown}.`,
      );
      const filters = s.perTenant ? `tenants hashed onto ${s.tenantFilters} filters (+1 without a tenant), each for ${filterCapacity(s)} keys` : "one shared filter";
      const bf = s.backend === "redis" && s.redisMode !== "bitmap";
      out.push(
        `Dedupe filters: ${filters}; at most ~${mib(filterMemoryBytes(s, false))} for two windows` +
          (bf ? ` (~${mib(filterMemoryBytes(s, true))} with BF.* growing to ${s.bloom.nonScaling ? "1 sub-filter (non-scaling)" : `${s.bloom.maxFilters} sub-filters`}).` : "."),
      );
    }
    if (s.kind === "limit") out.push(...explainLimit(s));
    if (s.kind === "persist") {
      const conns = s.url === "embedded" ? "embedded PGlite" : `${s.connections} connection(s) per worker, up to ${s.connections * r.max} in total`;
      out.push(`Persist: ${s.schema}.${s.table} via ${s.method}, ${conns}.`);
    }
  }
  const tr = t.tracing;
  out.push(
    tr.endpoint === null
      ? "Tracing: off (set `tracing.endpoint` to an OTLP/HTTP URL; the OpenTelemetry SDK is not loaded while off)."
      : `Tracing: OTLP/HTTP to ${redactUrl(tr.endpoint)} as ${tr.serviceName}, ${tr.sampling * 100}% of batches sampled; a span per batch with a child per step ` +
          `(consume, each stage, dead-letter) and a span per offset commit; up to ${tr.maxLinksPerBatch} links per batch to producers' traceparent; ` +
          `at most ${tr.maxQueueSpans} spans queued, the rest dropped (topofleet_tracing_spans_dropped_total), export timeout ${formatDuration(tr.exportTimeoutMs)}.`,
  );
  out.push(`Dead letters: ${t.deadLetter.topic}. Shutdown deadline ${formatDuration(t.shutdown.deadlineMs)}. HTTP ${t.http.port === 0 ? "disabled" : `${t.http.host}:${t.http.port}`}.`);
  return out;
}

/** Bytes as MiB with one decimal, for memory estimates. */
const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

function throughput(t: ResolvedTopology, partitions: number | undefined, cores: number): string[] {
  const ceilings = stageCeilings(t, { partitions, cores });
  const out = [`Per-stage ceilings from figures measured on a 2-core box (shared/NOTES.md), each stage alone, all replicas on this ${cores}-core machine:`];
  const width = Math.max(...ceilings.map((c) => c.stage.length));
  for (const c of ceilings) out.push(`  ${c.stage.padEnd(width)}  ~${k(c.eventsPerSec)} events/s  (${c.basis})`);
  const worst = bottleneck(ceilings);
  if (worst) {
    out.push(
      worst.stage === "generator"
        ? `Likely bound: the generator's input rate, ~${k(worst.eventsPerSec)} events/s (~${k(worst.eventsPerSec * 60)} events/min); the pipeline has headroom above it.`
        : `Likely bottleneck: ${worst.stage} at ~${k(worst.eventsPerSec)} events/s (~${k(worst.eventsPerSec * 60)} events/min).`,
    );
  }
  out.push(
    `Each ceiling assumes its stage has the machine to itself. When workers, enrich threads, Redis and PostgreSQL share ${cores} core(s), ` +
      "the end-to-end rate is lower (the straightforward pipeline measured 0.84-1.12M events/min on a 2-core box). " +
      "Replicas on other hosts bring their own cores. Measure with `bun dev/bench/e2e.ts`.",
  );
  return out;
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}

/** What a limit stage enforces and what it costs. */
function explainLimit(s: LimitStageConfig): string[] {
  const d = s.defaultLimit;
  const quota = d.quota === null ? "no quota" : `quota ${d.quota} per ${formatDuration(d.quotaWindowMs)}`;
  const overrides = Object.keys(s.tenants).length;
  const policy =
    s.onLimit === "delay"
      ? `delay (held up to ${formatDuration(s.maxDelayMs)}, then TENANT_DELAY_TOO_LONG; over quota -> TENANT_QUOTA_EXCEEDED; a worker stops consuming past ${s.maxHeldEvents} held events or ${s.maxHeldBatches} waiting batches)`
      : s.onLimit === "dead-letter"
        ? "dead-letter (TENANT_RATE_LIMITED / TENANT_QUOTA_EXCEEDED)"
        : "pass (counted in topofleet_limit_events_total{outcome=passed_over})";
  return [
    `Limit: ${d.events} events per ${formatDuration(d.perMs)} per tenant (burst ${d.burst}), ${quota}; ${overrides} override(s) in the file` +
      `${s.tenantsFile ? ` + ${s.tenantsFile}` : ""}${s.tenantsQuery ? ` + a PostgreSQL query reloaded every ${formatDuration(s.tenantsQuery.refreshMs)}` : ""}; over limit -> ${policy}; Redis down -> ${s.onRedisDown}.`,
    `Limit cost: 1 Redis call (EVALSHA of one script) per batch, whatever its size, plus 2 keys per tenant touched (rate state, quota counter); metrics name the top ${s.metricsTopTenants} tenants, the rest are "other".`,
  ];
}
