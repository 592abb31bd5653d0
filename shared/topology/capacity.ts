/**
 * Rough per-stage throughput ceilings for a resolved topology, from the figures measured on a 2-core box
 * (shared/NOTES.md). They name the likely bottleneck; they are not a benchmark (see dev/bench/ for those).
 */
import type { PersistStageConfig, ResolvedTopology } from "./types.ts";

/** One stage's estimated ceiling in events per second. */
export interface StageCeiling {
  stage: string;
  eventsPerSec: number;
  basis: string;
}

/** Measured or target figures the estimates use (events or rows per second). */
export const FIGURES = {
  consumePerProcess: 300_000, // NOTES: consume into JS ~310–380k msg/s per process
  enrichPerThread: 150_000, // enrich stage target per thread (design figure, not a NOTES measurement)
  bitfieldPerClient: 177_000, // NOTES: BITFIELD SET u1 x10, 1000 keys/call, 4 in flight
  copyOneConn: 78_000, // NOTES: COPY to staging + INSERT ... ON CONFLICT, 1 connection
  copyFourConns: 119_000, // ... 4 connections (PostgreSQL-bound beyond)
  unnestOneConn: 56_000,
  unnestFourConns: 85_000,
  embedded: 96_000, // NOTES: PGlite over the socket server, unnest into a simple table
} as const;

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
    eventsPerSec: FIGURES.consumePerProcess * processes,
    basis: `~${k(FIGURES.consumePerProcess)}/s per process x ${processes} consuming process(es)${capped}`,
  });
  for (const s of t.stages) {
    if (s.kind === "enrich") {
      const threads = Math.min(s.threads * replicas, facts.cores);
      out.push({
        stage: s.name,
        eventsPerSec: FIGURES.enrichPerThread * threads,
        basis: `~${k(FIGURES.enrichPerThread)}/s per thread (the enrich stage's design target) x ${threads} busy thread(s)${s.threads * replicas > threads ? ` (capped at ${facts.cores} core(s))` : ""}`,
      });
    } else if (s.kind === "dedupe" && s.backend === "redis") {
      out.push({
        stage: s.name,
        eventsPerSec: FIGURES.bitfieldPerClient * processes,
        basis: `~${k(FIGURES.bitfieldPerClient)} keys/s per Redis client (BITFIELD, client-bound) x ${processes}${capped}; BF.* (Redis 8) not measured here`,
      });
    } else if (s.kind === "persist") {
      out.push(persistCeiling(s, replicas));
    }
  }
  return out;
}

/** The smallest ceiling: the likely bottleneck. */
export function bottleneck(ceilings: readonly StageCeiling[]): StageCeiling | undefined {
  return ceilings.reduce<StageCeiling | undefined>((min, c) => (min === undefined || c.eventsPerSec < min.eventsPerSec ? c : min), undefined);
}

// PostgreSQL is one shared server: more connections help up to ~4, then the server itself is the limit.
function persistCeiling(s: PersistStageConfig, replicas: number): StageCeiling {
  if (s.url === "embedded") {
    return { stage: s.name, eventsPerSec: FIGURES.embedded, basis: `~${k(FIGURES.embedded)} rows/s into embedded PGlite (one backend)` };
  }
  const conns = s.connections * replicas;
  const [one, four] = s.method === "copy" ? [FIGURES.copyOneConn, FIGURES.copyFourConns] : [FIGURES.unnestOneConn, FIGURES.unnestFourConns];
  const rate = conns >= 4 ? four : one + ((four - one) * (conns - 1)) / 3;
  return {
    stage: s.name,
    eventsPerSec: Math.round(rate),
    basis: `${s.method} with ${conns} connection(s) in total: ~${k(one)} rows/s with 1, ~${k(four)} with 4 (PostgreSQL-bound beyond)`,
  };
}

/** 119000 → "119k". */
export function k(n: number): string {
  return n >= 1_000_000 ? `${(n / 1_000_000).toFixed(2)}M` : n >= 1000 ? `${Math.round(n / 1000)}k` : String(n);
}
