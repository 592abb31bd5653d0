/** librdkafka's log lines as events: parsing, level mapping, the repeat limit, and a live handle's lines reaching the logger. */
import { afterEach, describe, expect, test } from "bun:test";
import { Admin, setKafkaLogger, type KafkaLogger } from "../../shared/kafka/index.ts";
import { parseLogLine } from "../../shared/kafka/client/log-queue.ts";
import { LogRateLimiter } from "../../shared/kafka/client/log-rate-limit.ts";
import { kafkaLogger, pinoLevelOf } from "../../shared/kafka/client/log-sink.ts";
import { freePort } from "../../dev/support/net.ts";

interface Captured {
  level: keyof KafkaLogger;
  fields: Record<string, any>;
  msg: string;
}

function capturingLogger(): { logger: KafkaLogger; lines: Captured[] } {
  const lines: Captured[] = [];
  const at = (level: keyof KafkaLogger) => (fields: Record<string, unknown>, msg: string) => lines.push({ level, fields, msg });
  return { logger: { error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug") }, lines };
}

const processLogger = kafkaLogger();
afterEach(() => setKafkaLogger(processLogger));

describe("librdkafka log lines", () => {
  test("the broker prefix becomes a field; other lines keep their text", () => {
    expect(parseLogLine(3, "FAIL", "127.0.0.1:9/bootstrap: Connect to ipv4#127.0.0.1:9 failed")).toEqual({
      level: 3,
      fac: "FAIL",
      broker: "127.0.0.1:9/bootstrap",
      message: "Connect to ipv4#127.0.0.1:9 failed",
    });
    expect(parseLogLine(4, "REQTMOUT", "sasl_ssl://kafka-1.example:9093/2: Timed out 1 in-flight").broker).toBe("sasl_ssl://kafka-1.example:9093/2");
    expect(parseLogLine(7, "CGRPOP", "GroupCoordinator/1: Group \"g\" received op").broker).toBe("GroupCoordinator/1");
    expect(parseLogLine(4, "CONFWARN", "Configuration property x is a producer property: ignored")).toMatchObject({ broker: null, message: "Configuration property x is a producer property: ignored" });
  });

  test("syslog levels map to pino levels", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(pinoLevelOf)).toEqual(["error", "error", "error", "error", "warn", "info", "info", "debug"]);
  });

  test("the same facility and text (numbers aside) is logged once per window, then with the count held back", () => {
    const rl = new LogRateLimiter(10_000);
    const line = (message: string) => ({ fac: "FAIL", message });
    expect(rl.admit(line("Connect failed (after 0ms in state CONNECT)"), 0)).toBe(0);
    expect(rl.admit(line("Connect failed (after 12ms in state CONNECT, 3 identical error(s) suppressed)"), 1_000)).toBeNull();
    expect(rl.admit(line("Connect failed (after 40ms in state CONNECT)"), 2_000)).toBeNull();
    expect(rl.admit({ fac: "ERROR", message: "1/1 brokers are down" }, 2_000)).toBe(0); // another line is not held back
    expect(rl.admit(line("Connect failed (after 7ms in state CONNECT)"), 10_500)).toBe(2);
    expect(rl.admit(line("Connect failed (after 7ms in state CONNECT)"), 11_000)).toBeNull();
    expect(rl.drainSuppressed()).toEqual([{ last: line("Connect failed (after 7ms in state CONNECT)"), suppressed: 1 }]);
    expect(rl.drainSuppressed()).toEqual([]);
  });

  test("a client's lines reach the process's Kafka logger with facility, client and broker, rate-limited, and a closing count", async () => {
    const { logger, lines } = capturingLogger();
    setKafkaLogger(logger);
    const port = await freePort();
    // An admin client enables no error events, so librdkafka logs its errors too ("1/1 brokers are down").
    const admin = new Admin({
      config: { "bootstrap.servers": `127.0.0.1:${port}`, "client.id": "logs-test", "fetch.wait.max.ms": "10", "reconnect.backoff.ms": "20", "reconnect.backoff.max.ms": "50" },
    });
    const deadline = Date.now() + 10_000;
    while (!lines.some((l) => l.fields.kafka.fac === "FAIL") && Date.now() < deadline) await Bun.sleep(50);
    await Bun.sleep(2000); // librdkafka reconnects every 20-50 ms meanwhile: the repeats are held back
    await admin.close();

    const confwarn = lines.find((l) => l.fields.kafka.fac === "CONFWARN");
    expect(confwarn?.level).toBe("warn");
    expect(confwarn?.msg).toContain("fetch.wait.max.ms");
    const fails = lines.filter((l) => l.fields.kafka.fac === "FAIL");
    expect(fails[0].level).toBe("error");
    expect(fails[0].fields.kafka).toEqual({ fac: "FAIL", client: "logs-test#producer-" + fails[0].fields.kafka.client.split("-").at(-1), broker: `127.0.0.1:${port}/bootstrap` });
    expect(fails[0].msg).toContain("Connection refused");
    // "1/1 brokers are down" comes with every failed reconnect: logged once, then counted.
    const down = lines.filter((l) => l.fields.kafka.fac === "ERROR" && l.msg.includes("brokers are down"));
    expect(down.length, JSON.stringify(down)).toBe(2);
    expect(down[1].fields.suppressed).toBeGreaterThan(0);
    expect(down[1].msg).toContain("more like this were not logged");
  });
});
