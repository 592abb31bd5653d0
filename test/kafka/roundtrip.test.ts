import { describe, expect, test } from "bun:test";
import { Consumer, Producer } from "../../shared/kafka/index.ts";
import { consumeN, consumerConfig, uniqueName } from "./helpers.ts";
import { kafkaSuite } from "../../dev/support/kafka.ts";

const kafka = kafkaSuite();

describe("producer -> consumer round trip", () => {
  test("keys, headers, binary and null values, explicit partition and timestamp survive the trip", async () => {
    const topic = uniqueName("rt");
    await kafka().createTopic(topic, 4);
    const binary = new Uint8Array(256).map((_, i) => i);
    const producer = new Producer({ config: { "bootstrap.servers": kafka().bootstraps } });
    await producer.sendBatch([
      { topic, key: "k-bin", value: binary, headers: [["ce_id", "1"], ["empty", ""], ["nul", null], ["bin", new Uint8Array([0, 255])]] },
      { topic, key: null, value: "héllo wörld", partition: 2, timestamp: 1_700_000_000_000 },
      { topic, key: "tombstone", value: null },
      { topic, key: new Uint8Array([1, 2, 3]), value: new Uint8Array(0) },
    ]);
    await producer.close();

    const consumer = new Consumer({ config: consumerConfig(kafka().bootstraps, uniqueName("g")) });
    consumer.subscribe([topic]);
    const got = await consumeN(consumer, 4);
    await consumer.close();

    expect(got.length).toBe(4);
    const byKey = new Map(got.map((m) => [m.key, m]));
    const bin = byKey.get("k-bin")!;
    expect([...bin.value!]).toEqual([...binary]);
    expect(bin.headers).toEqual([["ce_id", "1"], ["empty", ""], ["nul", null], ["bin", "\u0000\ufffd"]]);
    const text = byKey.get(null)!;
    expect(Buffer.from(text.value!).toString()).toBe("héllo wörld");
    expect(text.partition).toBe(2);
    expect(text.timestamp).toBe(1_700_000_000_000);
    expect(text.headers).toBeNull();
    expect(byKey.get("tombstone")!.value).toBeNull();
    const bytesKey = got.find((m) => m.key === "\u0001\u0002\u0003")!;
    expect(bytesKey.value!.length).toBe(0);
    for (const m of got) expect(m.topic).toBe(topic);
  }, 60_000);

  test("a single send resolves after the broker acknowledged it", async () => {
    const topic = uniqueName("one");
    await kafka().createTopic(topic, 1);
    const producer = new Producer({ config: { "bootstrap.servers": kafka().bootstraps } });
    await producer.send({ topic, value: "x" });
    expect(producer.inFlight).toBe(0);
    await producer.close();
    expect((await kafka().watermarks(topic, 0)).high).toBe(1);
  });
});
