/**
 * Runs the event factory into a Kafka topic through Producer.sendBatch: at a steady rate (token bucket,
 * small batches) or as fast as the producer takes them (rate <= 0), until `config.events` are produced,
 * `durationMs` elapses or `signal` aborts. Every batch's delivery is awaited, so when the promise resolves
 * the manifest's counts are exactly what Kafka acknowledged.
 */
import type { ProduceRecord } from "../kafka/types.ts";
import type { GeneratorConfig } from "../topology/types.ts";
import { LoadgenError } from "./errors.ts";
import { createEventFactory, type EventFactory, type GeneratedRecord, type KeyMode } from "./events.ts";
import { manifestOf, writeManifest, type LoadgenManifest } from "./manifest.ts";
import type { BacklogPacer } from "./backlog-pacer.ts";
import { TokenBucket } from "./token-bucket.ts";

/**
 * librdkafka settings for a generator's producer: idempotent (the manifest counts acknowledged deliveries) and
 * batched the way a high-volume upstream producer batches. A 50 ms linger rather than librdkafka's 5: at
 * 25,000 events/s over 24 partitions, 5 ms made batches of ~5 records per partition, and the broker, on the
 * same 2 cores as the fleet, pays per batch to take them in and to serve them again. Measured
 * (dev/bench/PROFILE.md, "Sixth pass"): the broker's CPU to take 500k events at 50,000/s fell from 3.3-3.6 s
 * to 1.6-1.8 s; in two sustained pairs its CPU per event fell 45 % and 10 %, and p99 from 4.5 s to 2.3 s and
 * from 3.3 s to 1.7 s. The linger is inside the measured latency: events are stamped before they are produced.
 */
export const GENERATOR_PRODUCER_CONFIG: Readonly<Record<string, string>> = { "enable.idempotence": "true", "linger.ms": "50", "batch.num.messages": "10000" };

/** The part of the Kafka Producer the generator uses (shared/kafka Producer satisfies it). */
export interface BatchProducer {
  /** Resolves when every record is acknowledged; rejects when any failed. */
  sendBatch(records: readonly ProduceRecord[]): Promise<unknown>;
}

/** Cumulative counts of acknowledged messages, reported after each acknowledged batch. */
export interface GeneratorProgress {
  messages: number;
  unique: number;
  duplicates: number;
  invalid: number;
  elapsedMs: number;
}

export interface RunGeneratorOptions {
  producer: BatchProducer;
  topic: string;
  config: GeneratorConfig;
  signal?: AbortSignal;
  /** Record key: tenant (default), id or none. */
  key?: KeyMode;
  /** Stop after this long (ms) even if `config.events` is not reached. */
  durationMs?: number;
  seed?: number;
  runId?: string;
  onProgress?: (p: GeneratorProgress) => void;
  /** Path to write the manifest to when the run ends (also after an abort or a delivery failure). */
  manifest?: string;
  /** Records per sendBatch; default ~10 ms worth at the target rate (1..5000), 5000 when unlimited. */
  batchSize?: number;
  /** sendBatch calls awaiting delivery at once (default 8). */
  maxInFlight?: number;
  /** Holds production back while the consumers have not caught up (the demo's mock cluster). */
  pacer?: BacklogPacer;
}

export interface GeneratorResult {
  manifest: LoadgenManifest;
  elapsedMs: number;
  /** Acknowledged messages per second over the run. */
  ratePerSec: number;
}

interface Tally {
  messages: number;
  unique: number;
  duplicates: number;
  invalid: number;
}

const tallyOf = (recs: readonly GeneratedRecord[]): Tally => {
  const t: Tally = { messages: recs.length, unique: 0, duplicates: 0, invalid: 0 };
  for (const r of recs) {
    if (r.kind === "valid") t.unique++;
    else if (r.kind === "duplicate") t.duplicates++;
    else t.invalid++;
  }
  return t;
};

/** Produces CloudEvents into `topic` (see module doc); resolves with the run's manifest. */
export async function runGenerator(opts: RunGeneratorOptions): Promise<GeneratorResult> {
  const { config, producer, topic } = opts;
  const key = opts.key ?? "tenant";
  const factory = createEventFactory({
    tenants: config.tenants,
    payloadBytes: config.payloadBytes,
    duplicateRatio: config.duplicateRatio,
    invalidRatio: config.invalidRatio,
    binaryRatio: config.binaryRatio,
    seed: opts.seed,
    runId: opts.runId,
    key,
  });
  const limited = config.rate > 0 && Number.isFinite(config.rate);
  const batchSize = Math.max(1, Math.floor(opts.batchSize ?? (limited ? Math.min(5000, Math.max(1, Math.round(config.rate / 100))) : 5000)));
  // Capacity: 100 ms of tokens (at least two batches) absorbs timer lateness without a visible burst.
  const bucket = limited ? new TokenBucket(config.rate, Math.max(2 * batchSize, config.rate / 10)) : null;
  const maxInFlight = Math.max(1, opts.maxInFlight ?? 8);
  const limit = config.events ?? Infinity;

  // One internal signal for "stop producing": the caller's abort or the duration running out.
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  if (opts.signal?.aborted) stop.abort();
  const timer = opts.durationMs !== undefined ? setTimeout(onAbort, opts.durationMs) : null;

  const startedAt = new Date();
  const t0 = performance.now();
  const acked: Tally = { messages: 0, unique: 0, duplicates: 0, invalid: 0 };
  const inFlight = new Set<Promise<void>>();
  let failure: unknown = null;
  let generated = 0;

  try {
    while (!stop.signal.aborted && failure === null && generated < limit) {
      const n = Math.min(batchSize, limit - generated);
      if (opts.pacer && !(await opts.pacer.admit(generated, n, stop.signal))) break;
      if (bucket && !(await bucket.take(n, stop.signal))) break;
      while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
      if (failure !== null) break;
      const recs = nextRecords(factory, n);
      generated += n;
      const records: ProduceRecord[] = recs.map((r) => ({ topic, key: r.key, value: r.value, headers: r.headers }));
      const p = producer.sendBatch(records).then(
        () => {
          const t = tallyOf(recs);
          acked.messages += t.messages;
          acked.unique += t.unique;
          acked.duplicates += t.duplicates;
          acked.invalid += t.invalid;
          opts.onProgress?.({ ...acked, elapsedMs: performance.now() - t0 });
        },
        (err) => {
          failure ??= err;
        },
      );
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
    await Promise.all(inFlight);
  } finally {
    if (timer) clearTimeout(timer);
    opts.signal?.removeEventListener("abort", onAbort);
  }

  const elapsedMs = performance.now() - t0;
  const manifest = manifestOf(factory, { topic, key, config, startedAt, complete: failure === null });
  if (opts.manifest) await writeManifest(opts.manifest, manifest);
  if (failure !== null) {
    throw new LoadgenError(
      "LOADGEN_DELIVERY_FAILED",
      `Kafka did not acknowledge every message of run ${factory.runId} (${acked.messages} of ${manifest.messages} acknowledged): ${(failure as Error)?.message ?? failure}`,
      { retriable: true, cause: failure, context: { runId: factory.runId, acknowledged: acked.messages, generated: manifest.messages } },
    );
  }
  return { manifest, elapsedMs, ratePerSec: elapsedMs > 0 ? (manifest.messages * 1000) / elapsedMs : 0 };
}

function nextRecords(factory: EventFactory, n: number): GeneratedRecord[] {
  const out: GeneratedRecord[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = factory.next();
  return out;
}
