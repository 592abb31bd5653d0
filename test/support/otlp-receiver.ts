/**
 * An in-process OTLP/HTTP traces receiver for tests: a real HTTP server on an ephemeral port that decodes what an
 * exporter posts (OTLP JSON, as @opentelemetry/exporter-trace-otlp-http sends it) into flat spans. It can be told
 * to fail requests, to test that export failures never stall the pipeline.
 */

/** One received span, flattened with its resource attributes. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  startMs: number;
  endMs: number;
  attributes: Record<string, unknown>;
  links: Array<{ traceId: string; spanId: string; traceState: string }>;
  status: { code?: number; message?: string };
  resource: Record<string, unknown>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpValue[] };
}

function valueOf(v: OtlpValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(valueOf);
  return undefined;
}

const attrs = (list: Array<{ key: string; value: OtlpValue }> = []) => Object.fromEntries(list.map((a) => [a.key, valueOf(a.value)]));

/** The receiver; `url` is its traces endpoint. */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  requests = 0;
  contentTypes = new Set<string>();
  /** When true, every request is answered 503 (and its spans are not kept). */
  failing = false;
  private server: ReturnType<typeof Bun.serve> | null = null;

  /** Starts listening on 127.0.0.1, port 0 (ephemeral). */
  start(): this {
    this.server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: async (req) => {
        this.requests++;
        this.contentTypes.add(req.headers.get("content-type") ?? "");
        if (this.failing) return new Response("unavailable", { status: 503 });
        const body = (await req.json()) as { resourceSpans?: Array<{ resource?: { attributes?: [] }; scopeSpans?: Array<{ spans?: unknown[] }> }> };
        for (const rs of body.resourceSpans ?? []) {
          const resource = attrs(rs.resource?.attributes);
          for (const ss of rs.scopeSpans ?? []) {
            for (const raw of (ss.spans ?? []) as Array<Record<string, unknown>>) {
              this.spans.push({
                traceId: String(raw.traceId),
                spanId: String(raw.spanId),
                parentSpanId: String(raw.parentSpanId ?? ""),
                name: String(raw.name),
                startMs: Number(BigInt(String(raw.startTimeUnixNano)) / 1_000_000n),
                endMs: Number(BigInt(String(raw.endTimeUnixNano)) / 1_000_000n),
                attributes: attrs(raw.attributes as []),
                links: ((raw.links ?? []) as Array<Record<string, unknown>>).map((l) => ({ traceId: String(l.traceId), spanId: String(l.spanId), traceState: String(l.traceState ?? "") })),
                status: (raw.status ?? {}) as ReceivedSpan["status"],
                resource,
              });
            }
          }
        }
        return Response.json({});
      },
    });
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.server!.port}/v1/traces`;
  }

  stop(): void {
    this.server?.stop(true);
  }
}
