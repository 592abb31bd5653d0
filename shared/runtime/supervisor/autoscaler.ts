/**
 * The lag-driven scaling policy, as pure functions. The local supervisor calls `decideScale` on every
 * observation; the deploy emitters (systemd, KEDA) use `replicaBounds` and `desiredReplicas` so that all
 * three deployments scale on the same rule: one replica per `lagPerReplica` messages of total consumer lag,
 * between `min` and `max`, never more members than the source topics have partitions.
 */
import type { ReplicasConfig } from "../../topology/types.ts";

/** Replica bounds after applying the partition cap. */
export interface ReplicaBounds {
  min: number;
  max: number;
  /** True when `max` was lowered because the topic has fewer partitions than `replicas.max`. */
  capped: boolean;
}

/**
 * Effective bounds: `max` is capped at the partition count (a consumer group never gives work to more
 * members than partitions; extra members sit idle), and `min` never exceeds the capped `max`. The cap
 * applies to fixed replicas too: the supervisor logs a warning and runs `partitions` workers.
 */
export function replicaBounds(replicas: Pick<ReplicasConfig, "min" | "max">, partitions?: number | null): ReplicaBounds {
  let max = Math.max(1, Math.floor(replicas.max), Math.floor(replicas.min));
  let capped = false;
  if (partitions !== undefined && partitions !== null && partitions > 0 && max > partitions) {
    max = partitions;
    capped = true;
  }
  return { min: Math.max(1, Math.min(Math.floor(replicas.min), max)), max, capped };
}

/** desired = clamp(ceil(lag / lagPerReplica), min, max) with max capped at the partition count. */
export function desiredReplicas(lag: number, replicas: ReplicasConfig, partitions?: number | null): number {
  const b = replicaBounds(replicas, partitions);
  if (b.min === b.max || !(replicas.lagPerReplica > 0)) return b.min;
  const raw = Math.ceil(Math.max(0, lag) / replicas.lagPerReplica);
  return Math.min(b.max, Math.max(b.min, raw));
}

/** Hysteresis and cooldown knobs. Defaults suit production; tests shrink them. */
export interface AutoscaleTiming {
  /** Consecutive observations with desired > current before scaling up. */
  upObservations: number;
  /** How long lag must stay below the scale-down threshold before scaling down. */
  downStableMs: number;
  /** Minimum time after any change before scaling up again. */
  upCooldownMs: number;
  /** Minimum time after any change before scaling down. */
  downCooldownMs: number;
  /** Scale down only while lag < (current - 1) * lagPerReplica * downFactor. */
  downFactor: number;
}

/** Default timing: 3 observations up, 60 s of low lag down, 30 s / 120 s cooldowns, 0.8 down factor. */
export const DEFAULT_AUTOSCALE_TIMING: AutoscaleTiming = {
  upObservations: 3,
  downStableMs: 60_000,
  upCooldownMs: 30_000,
  downCooldownMs: 120_000,
  downFactor: 0.8,
};

/** What the policy remembers between observations. */
export interface AutoscaleState {
  current: number;
  upStreak: number;
  /** Epoch ms since lag has been continuously below the scale-down threshold; null when it is not. */
  belowSince: number | null;
  /** Epoch ms of the last replica change; null before the first. */
  lastChangeAt: number | null;
}

/** One lag observation. `lag` < 0 means unknown (a worker could not measure it): the policy holds. */
export interface AutoscaleObservation {
  lag: number;
  now: number;
}

/** The decision for one observation: the new state, the target replica count, and why. */
export interface AutoscaleDecision {
  state: AutoscaleState;
  target: number;
  reason: "hold" | "unknown-lag" | "bounds" | "scale-up" | "scale-down" | "cooldown" | "hysteresis";
}

/** Initial state for a fleet that starts with `current` replicas. */
export function initialAutoscaleState(current: number): AutoscaleState {
  return { current, upStreak: 0, belowSince: null, lastChangeAt: null };
}

/**
 * Decides the replica target for one observation. Scale-up jumps straight to the desired count (lag is
 * growing; stepping would take N cooldowns); scale-down removes one replica at a time because each removal
 * drains a worker and triggers a rebalance.
 */
export function decideScale(
  state: AutoscaleState,
  obs: AutoscaleObservation,
  replicas: ReplicasConfig,
  partitions: number | null | undefined,
  timing: AutoscaleTiming = DEFAULT_AUTOSCALE_TIMING,
): AutoscaleDecision {
  const b = replicaBounds(replicas, partitions);
  const changed = (target: number, reason: AutoscaleDecision["reason"]): AutoscaleDecision => ({
    state: { current: target, upStreak: 0, belowSince: null, lastChangeAt: obs.now },
    target,
    reason,
  });
  // Out of bounds (bounds changed, or the partition count shrank the cap): correct at once, no hysteresis.
  if (state.current < b.min) return changed(b.min, "bounds");
  if (state.current > b.max) return changed(b.max, "bounds");
  if (obs.lag < 0) return { state, target: state.current, reason: "unknown-lag" };

  const desired = desiredReplicas(obs.lag, replicas, partitions);
  const sinceChange = state.lastChangeAt === null ? Infinity : obs.now - state.lastChangeAt;

  if (desired > state.current) {
    const upStreak = state.upStreak + 1;
    const next = { ...state, upStreak, belowSince: null };
    if (upStreak < timing.upObservations) return { state: next, target: state.current, reason: "hysteresis" };
    if (sinceChange < timing.upCooldownMs) return { state: next, target: state.current, reason: "cooldown" };
    return changed(desired, "scale-up");
  }

  const threshold = (state.current - 1) * replicas.lagPerReplica * timing.downFactor;
  if (state.current > b.min && obs.lag < threshold) {
    const belowSince = state.belowSince ?? obs.now;
    const next = { ...state, upStreak: 0, belowSince };
    if (obs.now - belowSince < timing.downStableMs) return { state: next, target: state.current, reason: "hysteresis" };
    if (sinceChange < timing.downCooldownMs) return { state: next, target: state.current, reason: "cooldown" };
    return changed(state.current - 1, "scale-down");
  }
  return { state: { ...state, upStreak: 0, belowSince: null }, target: state.current, reason: "hold" };
}
