import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ptr } from "bun:ffi";
import { KafkaError, MockCluster, Producer } from "../../shared/kafka/index.ts";
import { MessageInternals, RKM } from "../../shared/kafka/consumer/message-internals.ts";
import { detachMessage } from "../../shared/kafka/consumer/detach.ts";
import { packRecords, recordHeaders, type RecordInput } from "../../shared/stages/records.ts";
import { consumeN, consumerConfig, recordingConsumer, uniqueName } from "./helpers.ts";

let mock: MockCluster;
let producer: Producer;
beforeAll(async () => {
  mock = await MockCluster.start({ brokers: 1 });
  producer = new Producer({ config: { "bootstrap.servers": mock.bootstraps } });
});
afterAll(async () => {
  await producer.close();
  await mock.stop();
});

/** A zeroed rd_kafka_msg_t-sized block (room for the consumer union) with a timestamp and optional header fields. */
function fakeMessage(timestamp: number, opts: { producerFlag?: boolean; wireHeadersLen?: number; wireHeaders?: Uint8Array } = {}): Buffer {
  const b = Buffer.alloc(256);
  b.writeBigInt64LE(BigInt(timestamp), RKM.timestamp);
  if (opts.producerFlag) b.writeInt32LE(0x40000, 88); // RD_KAFKA_MSG_F_PRODUCER in rkm_flags
  if (opts.wireHeadersLen !== undefined) b.writeInt32LE(opts.wireHeadersLen, RKM.wireHeadersLen);
  if (opts.wireHeaders) {
    b.writeInt32LE(opts.wireHeaders.length, RKM.wireHeadersLen);
    b.writeBigUInt64LE(BigInt(ptr(opts.wireHeaders)), RKM.wireHeadersData);
  }
  return b;
}

describe("consumed message timestamp and headers", () => {
  test("read from the struct and through the public calls, both give exactly what was produced", async () => {
    const topic = uniqueName("mi");
    mock.createTopic(topic, 2);
    // 2,000 messages with headers: past the first 1,000 a consumer checks against librdkafka, so most are
    // decoded from the wire alone.
    const recs = Array.from({ length: 4000 }, (_, i) => ({
      topic,
      partition: i % 2,
      value: `v${i}`,
      timestamp: 1_700_000_000_000 + i,
      headers: i % 2 === 0 ? ([["ce_id", `id-${i}-ü`], ["empty", ""], ["nul", null]] as Array<[string, string | null]>) : undefined,
    }));
    await producer.sendBatch(recs);
    const expected = new Map(recs.map((r) => [r.value, r]));

    const runs: Record<string, Array<[string, number, unknown]>> = {};
    for (const mode of ["direct", "public"] as const) {
      if (mode === "public") process.env.TOPOFLEET_RDKAFKA_PUBLIC_READS = "1";
      try {
        const { consumer, errors } = recordingConsumer(consumerConfig(mock.bootstraps, uniqueName("g")));
        consumer.subscribe([topic]);
        const got = await consumeN(consumer, recs.length);
        await consumer.close();
        expect(errors.filter((e) => e instanceof KafkaError && e.code === "LAYOUT_MISMATCH")).toEqual([]);
        expect(got.length).toBe(recs.length);
        for (const m of got) {
          const r = expected.get(Buffer.from(m.value!).toString())!;
          expect(m.timestamp).toBe(r.timestamp);
          expect(m.headers).toEqual(r.headers ? [["ce_id", r.headers[0][1]], ["empty", ""], ["nul", null]] : null);
        }
        runs[mode] = got.map((m) => [Buffer.from(m.value!).toString(), m.timestamp, m.headers]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))) as never;
      } finally {
        delete process.env.TOPOFLEET_RDKAFKA_PUBLIC_READS;
      }
    }
    expect(runs.direct).toEqual(runs.public);
  }, 60_000);

  test("packRecords copies consumed messages straight out of librdkafka: the same batch as from copies, and reads after release throw", async () => {
    const topic = uniqueName("pack");
    mock.createTopic(topic, 1);
    // 2,400 messages with headers: past the first 1,000 their blocks are copied undecoded. Null, empty and
    // non-ASCII keys and values, a header value long enough for a two-byte length.
    const recs = Array.from({ length: 3600 }, (_, i) => ({
      topic,
      key: i % 3 === 0 ? null : i % 3 === 1 ? "" : `k${i}-é`,
      value: i % 5 === 0 ? null : i % 5 === 1 ? "" : `v${i}-ü`.repeat(1 + (i % 7)),
      headers: i % 3 !== 2 ? ([["ce_id", `id-${i}-ü`], ["long", "x".repeat(100)], ["nul", null]] as Array<[string, string | null]>) : undefined,
    }));
    await producer.sendBatch(recs);
    for (const mode of ["direct", "public"] as const) {
      if (mode === "public") process.env.TOPOFLEET_RDKAFKA_PUBLIC_READS = "1";
      try {
        const { consumer } = recordingConsumer(consumerConfig(mock.bootstraps, uniqueName("g")));
        consumer.subscribe([topic]);
        let seen = 0;
        const deadline = Date.now() + 30_000;
        while (seen < recs.length && Date.now() < deadline) {
          const b = await consumer.consume(1000, 200);
          if (b.messages.length === 0) continue;
          const direct = packRecords(b.messages); // before anything decodes the headers
          const copies: RecordInput[] = b.messages.map((m) => ({ ...detachMessage(m), headers: m.headers?.map(([n, v]) => [n, v ? v.slice() : null]) ?? null }));
          const m0 = b.messages[0];
          b.release();
          const fromCopies = packRecords(copies);
          for (const k of ["values", "valueStarts", "valueNull", "keys", "keyStarts", "keyNull", "offsets", "headerStarts", "headerBytes"] as const) {
            expect([mode, k, [...direct[k]]]).toEqual([mode, k, [...fromCopies[k]]]);
          }
          for (let i = 0; i < direct.size; i++) {
            const r = recs[direct.offsets[i]];
            expect(recordHeaders(direct, i)).toEqual(r.headers ? r.headers.map(([n, v]) => [n, v === null ? null : new TextEncoder().encode(v)]) : null);
          }
          expect(() => m0.value).toThrow(expect.objectContaining({ code: "RELEASED" }));
          seen += b.messages.length;
        }
        expect(seen).toBe(recs.length);
        await consumer.close();
      } finally {
        delete process.env.TOPOFLEET_RDKAFKA_PUBLIC_READS;
      }
    }
  }, 60_000);

  test("the loaded librdkafka (2.x) is read directly, and the struct agrees with rd_kafka_message_timestamp/headers", () => {
    const internals = new MessageInternals();
    expect(internals.isDirect).toBe(true);
    // Wire headers: count 0, count -1 (null), and one header "a" = "b" (zigzag varints: 2 = 1 header, 2 = length 1).
    const zero = new Uint8Array([0]);
    const nul = new Uint8Array([1]);
    const one = new Uint8Array([2, 2, 0x61, 2, 0x62]);
    const msgs = [fakeMessage(1_700_000_000_123), fakeMessage(-1), fakeMessage(42, { wireHeadersLen: -1 }), fakeMessage(5, { wireHeaders: zero }), fakeMessage(6, { wireHeaders: nul }), fakeMessage(7, { wireHeaders: one })];
    const ts = new Float64Array(msgs.length);
    const hh = new Uint8Array(msgs.length);
    internals.read(msgs.map((b) => ptr(b)), ts, hh);
    expect(Array.from(ts)).toEqual([1_700_000_000_123, -1, 42, 5, 6, 7]);
    expect(Array.from(hh)).toEqual([0, 0, 0, 0, 0, 1]);
    expect(internals.isDirect).toBe(true);
  });

  test("headers decode from the wire bytes; bytes that do not decode go to the library path", () => {
    const internals = new MessageInternals();
    // 2 headers: "a" = "bc", "ü" = null (zigzag varints: 4 = 2 headers, 2 = length 1, 4 = length 2, 1 = -1).
    const good = fakeMessage(1, { wireHeaders: new Uint8Array([4, 2, 0x61, 4, 0x62, 0x63, 4, 0xc3, 0xbc, 1]) });
    const viaLibrary = (m: number) => (m === ptr(good) ? ([["a", new Uint8Array([0x62, 0x63])], ["ü", null]] as Array<[string, Uint8Array | null]>) : [["lib", null]] as Array<[string, Uint8Array | null]>);
    expect(internals.headers(ptr(good), viaLibrary)).toEqual([["a", new Uint8Array([0x62, 0x63])], ["ü", null]]);
    expect(internals.isDirect).toBe(true); // the check agreed
    // Past the checked ones, the wire result is used as is; a truncated block falls back to the library.
    for (let i = 0; i < 1000; i++) internals.headers(ptr(good), viaLibrary);
    const wireOnly = internals.headers(ptr(good), () => [["never", null]]);
    expect(wireOnly).toEqual([["a", new Uint8Array([0x62, 0x63])], ["ü", null]]);
    const truncated = fakeMessage(2, { wireHeaders: new Uint8Array([4, 2, 0x61, 8, 0x62]) });
    expect(internals.headers(ptr(truncated), viaLibrary)).toEqual([["lib", null]]);

    const reported: KafkaError[] = [];
    const disagreeing = new MessageInternals((e) => reported.push(e));
    expect(disagreeing.headers(ptr(good), () => [["a", null]])).toEqual([["a", null]]);
    expect(disagreeing.isDirect).toBe(false);
    expect(reported.map((e) => e.code)).toEqual(["LAYOUT_MISMATCH"]);
  });

  test("a struct the public calls read differently switches the process to the public calls and is reported once", () => {
    const reported: KafkaError[] = [];
    const internals = new MessageInternals((e) => reported.push(e));
    // Wire headers on a producer-flagged message: the struct says "headers", rd_kafka_message_headers says NOENT.
    const odd = fakeMessage(7, { producerFlag: true, wireHeaders: new Uint8Array([2, 2, 0x61, 2, 0x62]) });
    const ts = new Float64Array(2);
    const hh = new Uint8Array(2);
    internals.read([ptr(odd), ptr(odd)], ts, hh);
    expect(internals.isDirect).toBe(false);
    expect(Array.from(ts)).toEqual([7, 7]);
    expect(Array.from(hh)).toEqual([1, 1]); // public mode: readHeaders asks librdkafka itself
    internals.read([ptr(odd)], ts, hh);
    expect(reported.length).toBe(1);
    expect(reported[0]).toMatchObject({ code: "LAYOUT_MISMATCH", retriable: false });
  });
});
