import { describe, expect, test } from "bun:test";
import { ConfigError } from "../../shared/errors/index.ts";
import { resolveDataDir, resolveHttpBinding } from "../../shared/cli/environment.ts";

describe("resolveDataDir", () => {
  test("--data-dir wins over TOPOFLEET_DATA_DIR, which wins over ./.data/<name>", () => {
    expect(resolveDataDir("/x/flag", { TOPOFLEET_DATA_DIR: "/x/env" }, "demo", "/cwd")).toBe("/x/flag");
    expect(resolveDataDir(null, { TOPOFLEET_DATA_DIR: "/x/env" }, "demo", "/cwd")).toBe("/x/env");
    expect(resolveDataDir(null, {}, "demo", "/cwd")).toBe("/cwd/.data/demo");
    expect(resolveDataDir("rel", {}, "demo", "/cwd")).toBe("/cwd/rel");
  });
});

describe("resolveHttpBinding", () => {
  const http = { host: "0.0.0.0", port: 9464 };
  test("the topology's port, or null when it is 0 (disabled)", () => {
    expect(resolveHttpBinding(http, {})).toEqual({ host: "0.0.0.0", port: 9464 });
    expect(resolveHttpBinding({ ...http, port: 0 }, {})).toBeNull();
  });
  test("TOPOFLEET_HTTP_PORT replaces it; auto means ephemeral; 0 disables", () => {
    expect(resolveHttpBinding(http, { TOPOFLEET_HTTP_PORT: "9000" })!.port).toBe(9000);
    expect(resolveHttpBinding({ ...http, port: 0 }, { TOPOFLEET_HTTP_PORT: "auto" })!.port).toBe(0);
    expect(resolveHttpBinding(http, { TOPOFLEET_HTTP_PORT: "0" })).toBeNull();
  });
  test("TOPOFLEET_HTTP_PORT_OFFSET shifts the port (systemd instances)", () => {
    expect(resolveHttpBinding(http, { TOPOFLEET_HTTP_PORT_OFFSET: "3" })!.port).toBe(9467);
  });
  test("bad values are usage errors naming the variable", () => {
    expect(() => resolveHttpBinding(http, { TOPOFLEET_HTTP_PORT: "http" })).toThrow(ConfigError);
    expect(() => resolveHttpBinding(http, { TOPOFLEET_HTTP_PORT: "http" })).toThrow("TOPOFLEET_HTTP_PORT");
    expect(() => resolveHttpBinding(http, { TOPOFLEET_HTTP_PORT_OFFSET: "70000" })).toThrow("TOPOFLEET_HTTP_PORT_OFFSET");
  });
});
