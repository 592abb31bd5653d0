/**
 * Producers' trace contexts from the CloudEvents distributed-tracing extension: `ce_traceparent` /
 * `ce_tracestate` Kafka headers in binary mode (or plain `traceparent` / `tracestate` headers), and the
 * `traceparent` / `tracestate` attributes of a structured-mode event. Only sampled batches are scanned; the
 * structured scan is a byte search for `"traceparent"` (native), so events without one cost no JSON parsing.
 */
import type { Batch } from "../stages/batch.ts";
import { recordHeaders } from "../stages/records.ts";

/** A W3C trace context of one event. */
export interface EventTraceContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  traceState?: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const INVALID_TRACE = "0".repeat(32);
const INVALID_SPAN = "0".repeat(16);
const decoder = new TextDecoder();
const NEEDLE = Buffer.from('"traceparent"');

/** Parses a `traceparent` value (version 00 and future versions' first four fields); null when invalid. */
export function parseTraceparent(value: string, traceState?: string): EventTraceContext | null {
  const m = TRACEPARENT.exec(value.trim().slice(0, 55));
  if (!m || m[1] === "ff" || m[2] === INVALID_TRACE || m[3] === INVALID_SPAN) return null;
  return { traceId: m[2], spanId: m[3], traceFlags: Number.parseInt(m[4], 16), ...(traceState ? { traceState: traceState.slice(0, 512) } : {}) };
}

function header(headers: Array<[string, Uint8Array | null]>, names: readonly string[]): string | undefined {
  for (const [n, v] of headers) if (v && names.includes(n.toLowerCase())) return decoder.decode(v);
  return undefined;
}

/** The string value of JSON member `name` at the top of a structured event; a lenient scan, not a parser. */
function jsonMember(text: string, name: string): string | undefined {
  const m = new RegExp(`"${name}"\\s*:\\s*"([^"\\\\]{0,600})"`).exec(text);
  return m?.[1];
}

/** The trace contexts of the first `max` events of the batch that have one, in record order; `truncated` when the scan stopped there. */
export function eventTraceContexts(batch: Batch, max: number): { contexts: EventTraceContext[]; truncated: boolean } {
  const contexts: EventTraceContext[] = [];
  const r = batch.records;
  for (let i = 0; i < r.size; i++) {
    if (contexts.length === max) return { contexts, truncated: true };
    let ctx: EventTraceContext | null = null;
    const h = recordHeaders(r, i);
    const fromHeader = h ? header(h, ["ce_traceparent", "traceparent"]) : undefined;
    if (fromHeader !== undefined) ctx = parseTraceparent(fromHeader, header(h!, ["ce_tracestate", "tracestate"]));
    else if (!r.valueNull[i]) {
      const value = r.values.subarray(r.valueStarts[i], r.valueStarts[i + 1]);
      const at = Buffer.from(value.buffer, value.byteOffset, value.byteLength).indexOf(NEEDLE);
      if (at >= 0) {
        const text = decoder.decode(value);
        const tp = jsonMember(text, "traceparent");
        if (tp !== undefined) ctx = parseTraceparent(tp, jsonMember(text, "tracestate"));
      }
    }
    if (ctx) contexts.push(ctx);
  }
  return { contexts, truncated: false };
}
