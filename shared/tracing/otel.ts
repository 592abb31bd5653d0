/**
 * PipelineTracing on the OpenTelemetry SDK (imported only when tracing is on, see api.ts).
 *
 * Spans: `batch` per sampled batch (root; links to the producers' traces of its events), with children
 * `consume` (the consume call that filled it), one per stage that ran (named after the stage) and `dead-letter`;
 * and `commit` per offset commit (commits are coalesced over batches, so it is a root span of its own).
 * The pipeline never waits for tracing: spans go through a BatchSpanProcessor whose queue is bounded by
 * `maxQueueSpans` (past it a span is dropped and counted), and failed exports are dropped and counted.
 */
import { context, trace, SpanStatusCode, type Attributes, type Span, type TraceState, type Tracer } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor, TraceIdRatioBasedSampler, type ReadableSpan, type SpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { Logger } from "pino";
import type { TopicPartitionOffset } from "../kafka/types.ts";
import type { Batch } from "../stages/batch.ts";
import type { TracingConfig } from "../topology/types.ts";
import type { Counter, Metrics } from "../telemetry/metrics.ts";
import { M } from "../telemetry/names.ts";
import type { BatchTrace, PipelineTracing, SpanCounts, StepSpan } from "./types.ts";
import { eventTraceContexts } from "./traceparent.ts";
import { within } from "../timing/sleep.ts";

/** Who emits the spans (resource attributes). */
export interface TracingIdentity {
  workerId: number;
  topology: string;
}

const STATUS_NAMES = ["live", "persisted", "duplicate", "dead_lettered", "held", "filtered"] as const;

function countAttributes(counts: SpanCounts): Attributes {
  const a: Attributes = {};
  for (let s = 0; s < STATUS_NAMES.length; s++) if (counts[s]) a[`topofleet.events.${STATUS_NAMES[s]}`] = counts[s];
  return a;
}

function failSpan(span: Span, err: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  if (err instanceof Error) span.recordException(err);
}

/** Partition and offset range attributes of a batch (first partition; the count of partitions when several). */
function batchAttributes(batch: Batch): Attributes {
  const r = batch.records;
  const parts = new Set<number>();
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < r.size; i++) {
    parts.add(r.partitions[i]);
    lo = Math.min(lo, r.offsets[i]);
    hi = Math.max(hi, r.offsets[i]);
  }
  return {
    "messaging.system": "kafka",
    "messaging.destination.name": r.topics.join(","),
    "messaging.batch.message_count": r.size,
    "messaging.kafka.partitions": [...parts],
    "messaging.destination.partition.id": String(r.partitions[0] ?? ""),
    "topofleet.batch.id": batch.id,
    "topofleet.offset.first": r.size ? lo : -1,
    "topofleet.offset.last": r.size ? hi : -1,
    "topofleet.batch.bytes": r.bytes,
  };
}

/**
 * The bounded queue: counts spans handed to the BatchSpanProcessor and not yet exported, and drops (counting) a
 * span when `max` are waiting, before the processor would drop it silently. Export outcomes are counted too.
 */
class BoundedQueue implements SpanProcessor {
  private waiting = 0;
  readonly exporter: SpanExporter;
  readonly processor: BatchSpanProcessor;

  constructor(
    inner: SpanExporter,
    private readonly max: number,
    private readonly dropped: Counter,
    exported: Counter,
  ) {
    this.exporter = {
      export: (spans, done) => {
        inner.export(spans, (result) => {
          this.waiting = Math.max(0, this.waiting - spans.length);
          if (result.code === 0) exported.inc({}, spans.length);
          else dropped.inc({ reason: "export_failed" }, spans.length);
          done(result);
        });
      },
      shutdown: () => inner.shutdown(),
      forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
    };
    this.processor = new BatchSpanProcessor(this.exporter, { maxQueueSize: max, maxExportBatchSize: Math.min(512, max), scheduledDelayMillis: 1_000 });
  }

  onStart(span: Parameters<SpanProcessor["onStart"]>[0], ctx: Parameters<SpanProcessor["onStart"]>[1]): void {
    this.processor.onStart(span, ctx);
  }

  onEnd(span: ReadableSpan): void {
    if (this.waiting >= this.max) {
      this.dropped.inc({ reason: "queue_full" });
      return;
    }
    this.waiting++;
    this.processor.onEnd(span);
  }

  /** Spans handed over and not yet exported (or failed). */
  get pending(): number {
    return this.waiting;
  }

  forceFlush(): Promise<void> {
    return this.processor.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.processor.shutdown();
  }
}

/** PipelineTracing over the OpenTelemetry SDK and the OTLP/HTTP exporter. */
export class OtelTracing implements PipelineTracing {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;
  private readonly queue: BoundedQueue;
  private readonly dropped: Counter;
  private readonly commits = new Map<readonly TopicPartitionOffset[], Span>();

  constructor(
    private readonly cfg: TracingConfig,
    id: TracingIdentity,
    metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.dropped = metrics.counter(M.tracingSpansDropped);
    const exported = metrics.counter(M.tracingSpansExported);
    const exporter = new OTLPTraceExporter({ url: cfg.endpoint!, headers: cfg.headers, timeoutMillis: cfg.exportTimeoutMs }) as unknown as SpanExporter;
    this.queue = new BoundedQueue(exporter, cfg.maxQueueSpans, this.dropped, exported);
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ "service.name": cfg.serviceName, "service.instance.id": `${id.topology}-${id.workerId}`, "topofleet.worker": id.workerId }),
      sampler: new TraceIdRatioBasedSampler(cfg.sampling),
      spanLimits: { linkCountLimit: Math.max(cfg.maxLinksPerBatch, 1) },
      spanProcessors: [this.queue],
    });
    this.tracer = this.provider.getTracer("topofleet");
    logger.info({ sampling: cfg.sampling, serviceName: cfg.serviceName }, "tracing on (OTLP/HTTP)");
  }

  startBatch(batch: Batch, fetchStartedAt: number | undefined): BatchTrace | null {
    const start = fetchStartedAt ?? Date.now();
    const root = this.tracer.startSpan("batch", { root: true, startTime: start });
    // Not sampled: a non-recording span; nothing of the batch is read (no attributes, no scan for trace contexts).
    if (!root.isRecording()) return null;
    root.setAttributes(batchAttributes(batch));
    const { contexts, truncated } = eventTraceContexts(batch, this.cfg.maxLinksPerBatch);
    root.addLinks(
      contexts.map((c) => ({
        context: { traceId: c.traceId, spanId: c.spanId, traceFlags: c.traceFlags, isRemote: true, ...(c.traceState ? { traceState: traceStateOf(c.traceState) } : {}) },
      })),
    );
    root.setAttributes({ "topofleet.links": contexts.length, "topofleet.links.truncated": truncated });
    return new OtelBatchTrace(this.tracer, root, start, batch);
  }

  commitIssued(offsets: readonly TopicPartitionOffset[], sync: boolean): void {
    const span = this.tracer.startSpan("commit", {
      root: true,
      attributes: {
        "messaging.system": "kafka",
        "topofleet.commit.sync": sync,
        "topofleet.commit.partitions": offsets.length,
        "topofleet.commit.offsets": offsets.map((o) => `${o.topic}/${o.partition}@${o.offset}`),
      },
    });
    if (span.isRecording()) this.commits.set(offsets, span);
    else span.end();
  }

  commitSettled(offsets: readonly TopicPartitionOffset[], _sync: boolean, error: unknown): void {
    const span = this.commits.get(offsets);
    if (!span) return;
    this.commits.delete(offsets);
    if (error) failSpan(span, error);
    span.end();
  }

  async shutdown(timeoutMs: number): Promise<void> {
    for (const span of this.commits.values()) span.end();
    this.commits.clear();
    const pending = this.queue.pending;
    // A failed final export is counted like any other (BoundedQueue); it is not a shutdown failure.
    const flushed = this.provider.shutdown().then(
      () => true,
      (err: unknown) => {
        this.logger.warn({ err: err instanceof Error ? err.message : String(err) }, "tracing: the final export failed; its spans were dropped");
        return true;
      },
    );
    const done = await within(flushed, timeoutMs, false);
    if (!done) {
      this.dropped.inc({ reason: "shutdown" }, this.queue.pending);
      this.logger.warn({ pending, timeoutMs }, "tracing: spans not exported before the shutdown deadline were dropped");
    }
  }

}

/** A W3C tracestate kept as received: links only serialize it. */
function traceStateOf(value: string): TraceState {
  return {
    set: () => traceStateOf(value),
    unset: () => traceStateOf(value),
    get: () => undefined,
    serialize: () => value,
  };
}

/** The spans of one sampled batch. */
class OtelBatchTrace implements BatchTrace {
  private readonly ctx;
  private readonly open = new Set<Span>();

  constructor(
    private readonly tracer: Tracer,
    private readonly root: Span,
    fetchStartedAt: number,
    batch: Batch,
  ) {
    this.ctx = trace.setSpan(context.active(), root);
    const consume = tracer.startSpan("consume", { startTime: fetchStartedAt, attributes: batchAttributes(batch) }, this.ctx);
    consume.end();
  }

  stage(name: string, live: number): StepSpan {
    const span = this.tracer.startSpan(name, { attributes: { "topofleet.stage": name, "topofleet.events.in": live } }, this.ctx);
    this.open.add(span);
    return {
      end: (counts) => {
        span.setAttributes(countAttributes(counts));
        this.close(span);
      },
      fail: (err) => {
        failSpan(span, err);
        this.close(span);
      },
    };
  }

  end(counts: SpanCounts, err: unknown): void {
    for (const span of this.open) {
      if (err) failSpan(span, err);
      span.end();
    }
    this.open.clear();
    this.root.setAttributes(countAttributes(counts));
    if (err) failSpan(this.root, err);
    this.root.end();
  }

  private close(span: Span): void {
    if (!this.open.delete(span)) return;
    span.end();
  }
}
