import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { emit, deploymentName } from "../../shared/deploy/index.ts";
import { PLANTED, loadIngest, parseUnit } from "./support.ts";
import { tempDir } from "../../dev/support/temp-dir.ts";

describe("--emit systemd", async () => {
  const t = await loadIngest();
  const name = deploymentName(t);
  const dir = tempDir("systemd").dir;
  const written = emit("systemd", t, dir, { partitions: 4 });
  const unitText = readFileSync(join(dir, `${name}@.service`), "utf8");
  const unit = parseUnit(unitText);
  const svc = unit.get("Service")!;
  const one = (k: string) => svc.get(k)?.[0];

  test("writes a template unit, a target and an env example", () => {
    expect(written.map((p) => p.split("/").pop()).sort()).toEqual([`${name}.env.example`, `${name}.target`, `${name}@.service`].sort());
  });

  test("one worker per instance, secrets from an EnvironmentFile", () => {
    expect(one("ExecStart")).toContain("--replicas 1");
    expect(one("ExecStart")).toContain("workers/topology.ts");
    expect(one("EnvironmentFile")).toMatch(/^-\/etc\/topofleet\/.+\.env$/);
    expect(svc.get("Environment")).toContain("TOPOFLEET_HTTP_PORT_OFFSET=%i");
    expect(svc.get("Environment")).toContain("TOPOFLEET_INSTANCE=%H-%i");
  });

  test("restarts on failure with backoff and a start limit", () => {
    expect(one("Restart")).toBe("on-failure");
    expect(Number(one("RestartSec"))).toBeGreaterThan(0);
    expect(Number(one("RestartMaxDelaySec"))).toBeGreaterThan(Number(one("RestartSec")));
    expect(unit.get("Unit")!.get("StartLimitBurst")).toBeDefined();
  });

  test("stops with SIGTERM and waits longer than the shutdown deadline", () => {
    expect(one("KillSignal")).toBe("SIGTERM");
    expect(Number(one("TimeoutStopSec")) * 1000).toBeGreaterThan(t.shutdown.deadlineMs);
  });

  test("is hardened and writes only its state directory", () => {
    for (const [k, v] of [["NoNewPrivileges", "yes"], ["ProtectSystem", "strict"], ["ProtectHome", "yes"], ["PrivateTmp", "yes"]]) expect(one(k)).toBe(v);
    expect(svc.get("ReadWritePaths")).toEqual([`/var/lib/${name}`]);
    expect(Number(one("LimitNOFILE"))).toBeGreaterThanOrEqual(65536);
    // Bun's JIT needs W+X pages.
    expect(svc.has("MemoryDenyWriteExecute")).toBe(false);
  });

  test("the target starts replicas.min instances and documents the lag policy capped at partitions", () => {
    const target = readFileSync(join(dir, `${name}.target`), "utf8");
    const wants = parseUnit(target).get("Unit")!.get("Wants")![0].split(" ");
    expect(wants.length).toBe(t.concurrency.replicas.min);
    expect(wants[0]).toBe(`${name}@1.service`);
    expect(target).toContain(`max ${Math.min(t.concurrency.replicas.max, 4)}`);
    expect(parseUnit(unitText).get("Install")!.get("WantedBy")).toEqual([`${name}.target`]);
  });

  test("no secret in any emitted file; the env example lists the referenced variables", () => {
    for (const f of readdirSync(dir)) expect(readFileSync(join(dir, f), "utf8")).not.toContain(PLANTED);
    const env = readFileSync(join(dir, `${name}.env.example`), "utf8");
    expect(env).toContain("DATABASE_URL=");
    expect(env).toContain("REDIS_URL=");
  });

  const analyze = Bun.which("systemd-analyze");
  if (!analyze) console.warn("[skip] systemd-analyze is not installed: unit files are only checked structurally");
  test.skipIf(!analyze)("systemd-analyze verify accepts the units", async () => {
    // verify resolves ExecStart's binary and the target's Wants: give it a fake root with both.
    const p = Bun.spawnSync([analyze!, "verify", "--man=no", join(dir, `${name}@.service`).replace("@.service", "@1.service")], {
      env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` },
      stderr: "pipe",
    });
    const err = p.stderr.toString();
    // Only tolerate what we document: systemd < 254 doesn't know the backoff keys, and the VM paths don't exist here.
    const problems = err
      .split("\n")
      .filter((l) => l.trim())
      .filter((l) => !/Unknown key (name )?'Restart(Steps|MaxDelaySec)'/.test(l))
      .filter((l) => !/(Command|executable) .*(bun|topology\.ts).* (is not executable|not found|No such file)|Failed to (prepare|resolve) .*bun|\/usr\/local\/bin\/bun/.test(l))
      .filter((l) => !/Unit .*\.target not found|topofleet-.*\.target/.test(l));
    expect(problems).toEqual([]);
  });
});
