import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { KafkaError, rdkafkaInfo } from "../../shared/kafka/index.ts";
import { MSG, TP, TPL, VU } from "../../shared/kafka/ffi/memory.ts";
import { BUILT_RDKAFKA_VERSION, cachedRdkafkaPath } from "../../shared/kafka/ffi/lib.ts";

const repo = join(import.meta.dir, "../..");

/** Runs `code` in a fresh `bun -e` with the given environment; returns its exit code and output. */
function runBun(code: string, env: Record<string, string>): { exitCode: number; out: string } {
  const p = Bun.spawnSync([process.execPath, "-e", code], { cwd: repo, env: { ...process.env, ...env }, stderr: "pipe", stdout: "pipe" });
  return { exitCode: p.exitCode ?? -1, out: p.stdout.toString() + p.stderr.toString() };
}

describe("loading librdkafka", () => {
  test("the library in use is 2.x and says where it came from", () => {
    const info = rdkafkaInfo();
    expect(Number(info.version.split(".")[0])).toBeGreaterThanOrEqual(2);
    expect(["RDKAFKA_LIB", "cache", "system"]).toContain(info.source);
  });

  test("dev/setup.sh's cached build (2.15.1) is preferred over an older system library", () => {
    const { out } = runBun(`const { rdkafkaInfo } = await import("./shared/kafka/index.ts"); console.log(JSON.stringify(rdkafkaInfo()));`, { RDKAFKA_LIB: "" });
    const info = JSON.parse(out.split("\n").find((l) => l.startsWith("{"))!);
    if (existsSync(cachedRdkafkaPath())) expect(info).toMatchObject({ version: BUILT_RDKAFKA_VERSION, source: "cache", path: cachedRdkafkaPath() });
    else expect(info.source).toBe("system");
  });

  test("RDKAFKA_LIB pointing nowhere gives LIB_NOT_FOUND saying how to install librdkafka", () => {
    const code = `
      const { Producer } = await import("./shared/kafka/index.ts");
      try { new Producer({ config: { "bootstrap.servers": "127.0.0.1:1" } }); console.log("NO-ERROR"); }
      catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, domain: e.domain, retriable: e.retriable, message: e.message })); }
    `;
    const { exitCode, out } = runBun(code, { RDKAFKA_LIB: "/nonexistent/librdkafka.so.1" });
    expect(exitCode).toBe(0);
    const line = out.split("\n").find((l) => l.startsWith("{"));
    expect(line).toBeDefined();
    const err = JSON.parse(line!);
    expect(err).toMatchObject({ name: "KafkaError", code: "LIB_NOT_FOUND", domain: "kafka", retriable: false });
    expect(err.message).toContain("RDKAFKA_LIB=/nonexistent/librdkafka.so.1");
    expect(err.message).toContain("apt-get install -y librdkafka1");
    expect(err.message).toContain("brew install librdkafka");
    expect(err.message).toContain("apk add librdkafka");
  });

  test("importing the binding does not load the library (lazy)", () => {
    const { out } = runBun(`await import("./shared/kafka/index.ts"); console.log("IMPORTED");`, { RDKAFKA_LIB: "/nonexistent/librdkafka.so.1" });
    expect(out).toContain("IMPORTED");
  });
});

describe("struct layouts match rdkafka.h", () => {
  // The headers of the library in use: the cached build keeps its own beside it; else the system's.
  const loaded = rdkafkaInfo();
  const includeDir = loaded.source === "cache" ? join(dirname(loaded.path), "include") : "/usr/include";
  const header = join(includeDir, "librdkafka/rdkafka.h");
  const cc = Bun.which("cc") ?? Bun.which("gcc");
  const canCompile = !!cc && existsSync(header);
  if (!canCompile) console.warn(`[skip] struct layout check: needs a C compiler and ${header} (librdkafka-dev)`);
  test.skipIf(!canCompile)("offsetof() of every field we read equals the binding's constants", () => {
    const dir = `/tmp/tf-layout-${process.pid}`;
    const src = `${dir}/layout.c`;
    Bun.spawnSync(["mkdir", "-p", dir]);
    Bun.write(
      src,
      `#include <stdio.h>
#include <stddef.h>
#include <librdkafka/rdkafka.h>
int main(void) {
  printf("%zu %zu %zu %zu %zu %zu %zu %zu %zu %zu\\n", sizeof(rd_kafka_message_t), offsetof(rd_kafka_message_t, err), offsetof(rd_kafka_message_t, rkt),
    offsetof(rd_kafka_message_t, partition), offsetof(rd_kafka_message_t, payload), offsetof(rd_kafka_message_t, len), offsetof(rd_kafka_message_t, key),
    offsetof(rd_kafka_message_t, key_len), offsetof(rd_kafka_message_t, offset), offsetof(rd_kafka_message_t, _private));
  printf("%zu %zu %zu %zu %zu\\n", sizeof(rd_kafka_topic_partition_t), offsetof(rd_kafka_topic_partition_t, topic), offsetof(rd_kafka_topic_partition_t, partition),
    offsetof(rd_kafka_topic_partition_t, offset), offsetof(rd_kafka_topic_partition_t, err));
  printf("%zu %zu\\n", offsetof(rd_kafka_topic_partition_list_t, cnt), offsetof(rd_kafka_topic_partition_list_t, elems));
  printf("%zu %zu\\n", sizeof(rd_kafka_vu_t), offsetof(rd_kafka_vu_t, u));
  return 0;
}
`,
    );
    const build = Bun.spawnSync([cc!, `-I${includeDir}`, src, "-o", `${dir}/layout`]);
    expect(build.exitCode).toBe(0);
    const lines = Bun.spawnSync([`${dir}/layout`]).stdout.toString().trim().split("\n").map((l) => l.split(" ").map(Number));
    Bun.spawnSync(["rm", "-rf", dir]);
    expect(lines[0]).toEqual([72, MSG.err, MSG.rkt, MSG.partition, MSG.payload, MSG.len, MSG.key, MSG.keyLen, MSG.offset, MSG.opaque]);
    expect(lines[1]).toEqual([TP.size, TP.topic, TP.partition, TP.offset, TP.err]);
    expect(lines[2]).toEqual([TPL.cnt, TPL.elems]);
    expect(lines[3]).toEqual([VU.size, VU.union]);
  });
});

describe("KafkaError", () => {
  test("is a TopofleetError with domain kafka, a stable code and explicit flags", () => {
    const e = new KafkaError("_TRANSPORT", "broker gone", { retriable: true });
    expect(e.domain).toBe("kafka");
    expect(e.fatal).toBe(false);
    expect(e.toJSON()).toMatchObject({ name: "KafkaError", domain: "kafka", code: "_TRANSPORT", retriable: true });
  });
});
