/** Durations and sizes as users write them. */
import { describe, expect, test } from "bun:test";
import { ConfigError } from "../../shared/errors/index.ts";
import { formatDuration, formatSize, parseDuration, parseSize } from "../../shared/topology/index.ts";

describe("parseDuration", () => {
  test("numbers are milliseconds; units ms, s, m, h, d", () => {
    expect([250, "250ms", "30s", "1.5s", "5m", "1h", "1d", "0", "2000"].map((v) => parseDuration(v, "x"))).toEqual([
      250, 250, 30_000, 1_500, 300_000, 3_600_000, 86_400_000, 0, 2000,
    ]);
  });

  test("malformed or negative durations throw a ConfigError naming the path", () => {
    for (const bad of ["5 minutes", "10 sec", "-1s", "1h30m", -5, true, ""]) {
      const e = (() => {
        try {
          parseDuration(bad, "batch.maxWait");
        } catch (err) {
          return err;
        }
      })();
      expect(e, String(bad)).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).code).toBe("CONFIG_INVALID");
      expect((e as ConfigError).message).toStartWith("batch.maxWait: invalid duration");
    }
  });
});

describe("parseSize", () => {
  test("numbers are bytes; decimal and binary units, case-insensitive", () => {
    expect([1024, "512KiB", "4MiB", "1GB", "8mib", "100B", "2KB", "10"].map((v) => parseSize(v, "x"))).toEqual([
      1024, 524_288, 4_194_304, 1e9, 8_388_608, 100, 2000, 10,
    ]);
  });

  test("malformed sizes throw naming the path", () => {
    expect(() => parseSize("8 megs", "batch.maxBytes")).toThrow(/^batch\.maxBytes: invalid size "8 megs"/);
    expect(() => parseSize(-1, "batch.maxBytes")).toThrow(ConfigError);
  });
});

describe("formatting back", () => {
  test("the largest whole unit", () => {
    expect([formatDuration(50), formatDuration(30_000), formatDuration(3_600_000), formatDuration(1_500)]).toEqual(["50ms", "30s", "1h", "1500ms"]);
    expect([formatSize(8 * 2 ** 20), formatSize(1000), formatSize(512 * 1024)]).toEqual(["8MiB", "1000B", "512KiB"]);
  });
});
