/**
 * Tuning knobs of the dedupe stage that are not part of the topology file: clocks for tests, timeouts,
 * chunking. The topology's DedupeStageConfig says what to do; these say how hard to push.
 */
import { defaultTtlMarginMs } from "./windows.ts";
import { PASSTHROUGH_WARN_INTERVAL_MS, REDIS_TIMEOUTS } from "./redis-connection.ts";

/** Optional knobs of `createDedupeStage`; every field has a default (see DEFAULT_OPTIONS). */
export interface DedupeStageOptions {
  /** Clock (epoch ms) deciding the window; injected by tests to roll windows over. */
  now?: () => number;
  /** Keys per BITFIELD / BF.INSERT command (a command carries 4k+2 arguments for k probes per key). */
  chunkKeys?: number;
  /** Redis commands in flight per stage, across all batches. */
  maxInFlight?: number;
  connectTimeoutMs?: number;
  /** A command without a reply after this long fails (as DEDUPE_REDIS_UNAVAILABLE, retriable). */
  commandTimeoutMs?: number;
  maxReconnectDelayMs?: number;
  /** Memory budget for local copies of previous-window bitmaps (0: always check the previous window remotely). */
  previousWindowMaxBytes?: number;
  /** A previous-window copy taken within this long after the rollover is refreshed once, to catch stragglers. */
  previousWindowSettleMs?: number;
  /** Extra TTL beyond two windows; default max(1 min, window / 10). */
  ttlMarginMs?: number;
  /** Fill-ratio sampling period (BITCOUNT / BF.INFO); 0 samples after every batch. */
  statsIntervalMs?: number;
  /** Filters sampled per stats round (per-tenant filters: the most recently used ones). */
  statsMaxFilters?: number;
  /** Minimum gap between two "Redis is down, passing events through" warnings. */
  warnIntervalMs?: number;
}

/** Options with every default filled in. */
export type ResolvedDedupeOptions = Required<DedupeStageOptions>;

/** The defaults; chunkKeys and maxInFlight were measured with dev/bench/dedupe.ts on a 2-core box. */
export const DEFAULT_OPTIONS: Omit<ResolvedDedupeOptions, "ttlMarginMs"> = {
  now: Date.now,
  chunkKeys: 1000,
  maxInFlight: 4,
  ...REDIS_TIMEOUTS,
  previousWindowMaxBytes: 256 * 1024 * 1024,
  previousWindowSettleMs: 15_000,
  statsIntervalMs: 30_000,
  statsMaxFilters: 16,
  warnIntervalMs: PASSTHROUGH_WARN_INTERVAL_MS,
};

/** Fills defaults; `windowMs` decides the default TTL margin. */
export function resolveOptions(o: DedupeStageOptions, windowMs: number): ResolvedDedupeOptions {
  const r: ResolvedDedupeOptions = { ...DEFAULT_OPTIONS, ttlMarginMs: defaultTtlMarginMs(windowMs) };
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (r as Record<string, unknown>)[k] = v;
  return r;
}
