/** Human explanation of a resolved topology: redacted configuration, parallelism checks, and what bounds throughput. */
import { availableParallelism } from "node:os";
import { stringify } from "yaml";
import { bottleneck, fleetFacts, stageCeilings } from "./capacity.ts";
import { specOf } from "../stages/registry.ts";
import { redactTopology } from "./redact.ts";
import { redactUrl } from "../config/secrets.ts";
import type { ResolvedTopology } from "./types.ts";
import { formatCount as k, formatDuration, formatSize } from "../config/units.ts";

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
  const b = t.batch;
  const inflight = t.concurrency.inFlightBatches;
  out.push(
    `Batches: up to ${b.maxEvents} events or ${formatSize(b.maxBytes)}, closed after ${formatDuration(b.maxWaitMs)}; ` +
      `${inflight} in flight per worker, so up to ${b.maxEvents * inflight} events (${formatSize(b.maxBytes * inflight)}) buffered per worker.`,
  );
  const fleet = fleetFacts(t, partitions, cores);
  for (const s of t.stages) out.push(...specOf(s).explain(s, fleet));
  const tr = t.tracing;
  out.push(
    tr.endpoint === null
      ? "Tracing: off (set `tracing.endpoint` to an OTLP/HTTP URL; the OpenTelemetry SDK is not loaded while off)."
      : `Tracing: OTLP/HTTP to ${redactUrl(tr.endpoint)} as ${tr.serviceName}, ${tr.sampling * 100}% of batches sampled; a span per batch with a child per step ` +
          `(consume, each stage, dead-letter) and a span per offset commit; up to ${tr.maxLinksPerBatch} links per batch to producers' traceparent; ` +
          `at most ${tr.maxQueueSpans} spans queued, the rest dropped (topofleet_tracing_spans_dropped_total), export timeout ${formatDuration(tr.exportTimeoutMs)}.`,
  );
  const rb = t.retry.backoff;
  out.push(
    `Retries: a stage failing with a retriable error is retried forever (its batch is never skipped), after ${formatDuration(rb.initialMs)} growing x${rb.multiplier} ` +
      `to at most ${formatDuration(rb.maxMs)} (${rb.jitter} jitter); a sync commit refused by a rebalance is retried for ${formatDuration(t.retry.commit.rebalanceRetryMs)}.`,
  );
  out.push(`Dead letters: ${t.deadLetter.topic}. Shutdown deadline ${formatDuration(t.shutdown.deadlineMs)}. HTTP ${t.http.port === 0 ? "disabled" : `${t.http.host}:${t.http.port}`}.`);
  return out;
}

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
