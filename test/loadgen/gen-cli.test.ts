/** `bun run gen` (dev/gen.ts) as a user runs it: flags, the JSON summary line, the manifest file, usage errors. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { MockCluster } from "../../shared/kafka/index.ts";
import { readManifest } from "../../shared/loadgen/index.ts";
import { readWholeTopic } from "../../shared/replay/index.ts";
import { uniqueName } from "../../dev/support/services.ts";
import { tempDir } from "../../dev/support/temp-dir.ts";

const GEN = resolve(import.meta.dir, "../../dev/gen.ts");

const run = (args: string[]) => {
  const p = Bun.spawnSync([process.execPath, GEN, ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
};

describe("bun run gen", () => {
  let mock: MockCluster;
  let dir: string;
  beforeAll(async () => {
    mock = await MockCluster.start({ brokers: 1 });
    dir = tempDir("gen-cli").dir;
  });
  afterAll(async () => {
    await mock.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("produces --events into --brokers, prints a JSON summary last and writes the manifest", async () => {
    const topic = uniqueName("gen_cli");
    mock.createTopic(topic, 2);
    const file = join(dir, "m.json");
    const r = run(["--brokers", mock.bootstraps, "--topic", topic, "--events", "2000", "--rate", "0", "--dup-ratio", "0.1", "--invalid-ratio", "0.05", "--compression", "lz4", "--key", "none", "--manifest", file, "--json"]);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expect(summary.messages).toBe(2000);
    const m = await readManifest(file);
    expect(m.runId).toBe(summary.run_id);
    expect(m.unique + m.duplicates + m.invalid.total).toBe(2000);
    const { messages } = await readWholeTopic({ config: { "bootstrap.servers": mock.bootstraps }, topic, onBatch: () => {} });
    expect(messages).toBe(2000);
  }, 60_000);

  test("bad flags are usage errors (exit 2) naming the flag", () => {
    const bad = run(["--brokers", mock.bootstraps, "--dup-ratio", "1.5"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--dup-ratio");
    const unknown = run(["--brokers", mock.bootstraps, "--nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("--nope");
    expect(run(["--help"]).stdout).toContain("--invalid-ratio");
  });
});
