/**
 * What the engine sees of tracing: batch spans behind a small interface, and `loadTracing`, which imports the
 * OpenTelemetry SDK only when the topology enables tracing. With `tracing.endpoint` unset nothing of the SDK is
 * loaded and the engine's hooks are a null check per batch and stage.
 */
import type { Logger } from "pino";
import type { PipelineTracing } from "./types.ts";
import type { ResolvedTopology } from "../topology/types.ts";
import type { Metrics } from "../telemetry/metrics.ts";

export type { BatchTrace, PipelineTracing, SpanCounts, StepSpan } from "./types.ts";

/** The tracing of a topology, or null when it is off (then the SDK is never imported). */
export async function loadTracing(t: ResolvedTopology, workerId: number, metrics: Metrics, logger: Logger): Promise<PipelineTracing | null> {
  if (t.tracing.endpoint === null) return null;
  const { OtelTracing } = await import("./otel.ts");
  return new OtelTracing(t.tracing, { workerId, topology: t.name }, metrics, logger);
}
