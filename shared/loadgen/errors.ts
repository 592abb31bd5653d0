import { TopofleetError } from "../errors/base.ts";

/** Codes for the load generator, its manifest and the correctness audit. */
export type LoadgenErrorCode =
  | "LOADGEN_CONFIG" // bad generator options (ratios out of range, unknown key mode)
  | "LOADGEN_DELIVERY_FAILED" // Kafka did not acknowledge some messages: the run's dataset is uncertain
  | "LOADGEN_MANIFEST_INVALID" // a manifest file is missing, unreadable or not a manifest
  | "AUDIT_QUERY_FAILED" // the audit could not read the table
  | "TOPIC_READ_STALLED"; // reading a topic range (the DLQ for the audit, a replay) stopped making progress

/** The load generator, the manifest or the audit failed (not the pipeline under test). */
export class LoadgenError extends TopofleetError {
  readonly domain = "loadgen";
  constructor(code: LoadgenErrorCode, message: string, opts: { retriable: boolean; cause?: unknown; context?: Record<string, unknown> }) {
    super(code, message, opts);
  }
}
