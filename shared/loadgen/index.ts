/**
 * CloudEvents load generator: the event factory, a steady-rate token bucket, the Kafka-producing runner and
 * the run manifest the audit checks against the database.
 */
export { LoadgenError, type LoadgenErrorCode } from "./errors.ts";
export {
  createEventFactory,
  validateFactoryOptions,
  EXPECTED_REJECTION_CODE,
  HEADER_INVALID,
  HEADER_RUN,
  INVALID_KINDS,
  KEY_MODES,
  type EventFactory,
  type EventFactoryOptions,
  type FactoryCounts,
  type GeneratedRecord,
  type InvalidKind,
  type KeyMode,
  type RecordKind,
} from "./events.ts";
export { BacklogPacer, busiestPartitionShare, mockBacklogLimit } from "./backlog-pacer.ts";
export { GENERATOR_PRODUCER_CONFIG, runGenerator, type BatchProducer, type GeneratorProgress, type GeneratorResult, type RunGeneratorOptions } from "./generator.ts";
export { checkManifest, manifestOf, parseUniqueId, readManifest, uniqueId, writeManifest, type LoadgenManifest } from "./manifest.ts";
export { createRng, newRunId, randomSeed, type Rng } from "./random.ts";
export { TokenBucket, sleepUnlessAborted } from "./token-bucket.ts";
