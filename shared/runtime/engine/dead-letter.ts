/**
 * Dead-letter records: the ORIGINAL key, value and headers of each rejected event (byte for byte, so it can
 * be replayed after a fix), plus `topofleet-*` headers that say who rejected it, why, and where it came from.
 */
import { createHash } from "node:crypto";
import type { Batch } from "../../stages/batch.ts";
import { recordHeaders } from "../../stages/records.ts";
import type { ProduceRecord } from "../../kafka/types.ts";

/** Header names added to every dead letter. */
export const DLQ_HEADERS = {
  code: "topofleet-error-code",
  reason: "topofleet-error-reason",
  stage: "topofleet-error-stage",
  topic: "topofleet-source-topic",
  partition: "topofleet-source-partition",
  offset: "topofleet-source-offset",
  worker: "topofleet-worker",
  failedAt: "topofleet-failed-at",
  /** Set when the original value (and maybe key and headers) did not fit: its size in bytes... */
  originalBytes: "topofleet-original-bytes",
  /** ...and its SHA-256 (hex), so the source record can be found and checked (the source position is in the headers). */
  originalSha256: "topofleet-original-sha256",
  /** Set when the original headers were left out too: how many there were. */
  originalHeadersOmitted: "topofleet-original-headers-omitted",
} as const;

/** Longest reason header, in UTF-8 bytes: reasons may quote the input (a JSON parse error), which must not double a dead letter's size. */
export const MAX_REASON_BYTES = 1024;

/** Room for the original headers and ours on top of the largest event the enrich stage accepts. */
export const DEAD_LETTER_HEADROOM_BYTES = 64 * 1024;

/** librdkafka's default message.max.bytes, below the broker's default (1,000,012): never asked for less. */
const LIBRDKAFKA_DEFAULT_MAX_BYTES = 1_000_000;

/** Per-record framing (record batch overhead, header lengths) counted against message.max.bytes, with margin. */
const RECORD_OVERHEAD_BYTES = 512;

/**
 * The dead-letter producer's `message.max.bytes`: the largest accepted event plus headroom, so an event
 * enrich let through can be dead-lettered whole by a later stage. A broker or topic with a lower limit
 * refuses the record (MSG_SIZE_TOO_LARGE); the pipeline then sends a reference instead (fitDeadLetter).
 */
export function deadLetterMaxBytes(maxEventBytes: number): number {
  return Math.max(LIBRDKAFKA_DEFAULT_MAX_BYTES, maxEventBytes + DEAD_LETTER_HEADROOM_BYTES);
}

const byteLength = (v: Uint8Array | string | null | undefined): number => (v == null ? 0 : typeof v === "string" ? Buffer.byteLength(v) : v.byteLength);

/** Approximate bytes of a record against message.max.bytes (key, value, headers, framing). */
export function recordBytes(r: ProduceRecord): number {
  let n = RECORD_OVERHEAD_BYTES + byteLength(r.key) + byteLength(r.value);
  for (const [name, value] of r.headers ?? []) n += Buffer.byteLength(name) + byteLength(value) + 10;
  return n;
}

/** `s` cut to at most `maxBytes` UTF-8 bytes (on a character boundary), marked with "…" when cut. */
export function truncateUtf8(s: string, maxBytes: number): string {
  if (s.length * 3 <= maxBytes || Buffer.byteLength(s) <= maxBytes) return s;
  let cut = Buffer.from(s).subarray(0, maxBytes - 3).toString("utf8");
  if (cut.endsWith("\ufffd")) cut = cut.slice(0, -1); // a character split by the cut
  return cut + "…";
}

const sha256 = (v: Uint8Array | string | null | undefined): string => createHash("sha256").update(v ?? "").digest("hex");

/**
 * A dead letter that fits in `limit` bytes. One that already fits is returned as it is (original key, value and
 * headers, byte for byte). Otherwise (or with `force`, when the broker refused it as too large) the value is
 * replaced by a small JSON reference with the original size and SHA-256 (also in headers); if that still does
 * not fit, the original headers are left out and a too-long key is replaced by its hash.
 */
export function fitDeadLetter(r: ProduceRecord, limit: number, force = false): ProduceRecord {
  if (!force && recordBytes(r) <= limit) return r;
  const ours = (r.headers ?? []).filter(([name]) => name.startsWith("topofleet-"));
  const theirs = (r.headers ?? []).filter(([name]) => !name.startsWith("topofleet-"));
  const bytes = byteLength(r.value);
  const hash = sha256(r.value);
  const value = JSON.stringify({ omitted: "the dead letter's original value did not fit in a Kafka message", originalBytes: bytes, sha256: hash });
  const marks: Array<[string, string]> = [
    [DLQ_HEADERS.originalBytes, String(bytes)],
    [DLQ_HEADERS.originalSha256, hash],
  ];
  const slim: ProduceRecord = { ...r, value, headers: [...theirs, ...ours, ...marks] };
  if (recordBytes(slim) <= limit) return slim;
  const key = byteLength(r.key) > 1024 ? `sha256:${sha256(r.key)}` : r.key;
  return { ...r, key, value, headers: [...ours, ...marks, [DLQ_HEADERS.originalHeadersOmitted, String(theirs.length)]] };
}

/** The dead-letter records of a batch's rejected events, in record order, each fitted to `maxBytes` (fitDeadLetter). */
export function deadLetterRecords(batch: Batch, topic: string, workerId: number, maxBytes: number, failedAt: Date = new Date()): ProduceRecord[] {
  const out: ProduceRecord[] = [];
  if (batch.rejections.size === 0) return out;
  const r = batch.records;
  const at = failedAt.toISOString();
  const indexes = [...batch.rejections.keys()].sort((a, b) => a - b);
  for (const i of indexes) {
    const why = batch.rejections.get(i)!;
    const headers: Array<[string, Uint8Array | string | null]> = recordHeaders(r, i) ?? [];
    headers.push(
      [DLQ_HEADERS.code, why.code],
      [DLQ_HEADERS.reason, truncateUtf8(why.reason, MAX_REASON_BYTES)],
      [DLQ_HEADERS.stage, why.stage],
      [DLQ_HEADERS.topic, r.topics[r.topicIndex[i]]],
      [DLQ_HEADERS.partition, String(r.partitions[i])],
      [DLQ_HEADERS.offset, String(r.offsets[i])],
      [DLQ_HEADERS.worker, String(workerId)],
      [DLQ_HEADERS.failedAt, at],
    );
    out.push(fitDeadLetter({ topic, key: batch.key(i), value: batch.value(i), headers }, maxBytes));
  }
  return out;
}
