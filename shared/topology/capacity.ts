/**
 * Rough per-stage throughput ceilings for a resolved topology, from the figures measured on a 2-core box
 * (shared/NOTES.md). They name the likely bottleneck; they are not a benchmark (see dev/bench/ for those).
 */
import { formatCount as k } from "../config/units.ts";
import { specOf } from "../stages/registry.ts";
import type { FleetFacts, StageCeiling } from "../stages/spec.ts";
import type { ResolvedTopology } from "./types.ts";

export type { StageCeiling } from "../stages/spec.ts";

/** NOTES: consume into JS ~310–380k msg/s per process. Each stage's own figures live in its spec. */
const CONSUME_PER_PROCESS = 300_000;

/** What the stage specs' explain and capacity hooks know about the fleet. */
export function fleetFacts(t: ResolvedTopology, partitions: number | undefined, cores: number): FleetFacts {
  const { min, max } = t.concurrency.replicas;
  return { cores, partitions, replicas: { min, max }, activeReplicas: activeReplicas(t, partitions) };
}

/** Replicas that actually consume: never more than the partitions. */
export function activeReplicas(t: ResolvedTopology, partitions?: number): number {
  const max = t.concurrency.replicas.max;
  return partitions === undefined ? max : Math.max(1, Math.min(max, partitions));
}

/**
 * Estimated ceilings of every stage that has one, plus the source's input rate for a mock generator.
 * CPU-bound work (consume, enrich threads, the Redis client) is capped at `cores`: replicas on one machine
 * share its cores. PostgreSQL is one shared server whatever the replica count.
 */
export function stageCeilings(t: ResolvedTopology, facts: { partitions?: number; cores: number }): StageCeiling[] {
  const replicas = activeReplicas(t, facts.partitions);
  const processes = Math.min(replicas, facts.cores);
  const capped = replicas > processes ? ` (capped at ${facts.cores} core(s))` : "";
  const out: StageCeiling[] = [];
  if (t.source.kind === "mock" && t.source.generator) {
    out.push({ stage: "generator", eventsPerSec: t.source.generator.rate, basis: "configured generator rate (the input, not a limit of the pipeline)" });
  }
  out.push({
    stage: "consume",
    eventsPerSec: CONSUME_PER_PROCESS * processes,
    basis: `~${k(CONSUME_PER_PROCESS)}/s per process x ${processes} consuming process(es)${capped}`,
  });
  const fleet = fleetFacts(t, facts.partitions, facts.cores);
  for (const s of t.stages) {
    const c = specOf(s).capacity?.(s, fleet);
    if (c) out.push(c);
  }
  return out;
}

/** The smallest ceiling: the likely bottleneck. */
export function bottleneck(ceilings: readonly StageCeiling[]): StageCeiling | undefined {
  return ceilings.reduce<StageCeiling | undefined>((min, c) => (min === undefined || c.eventsPerSec < min.eventsPerSec ? c : min), undefined);
}
