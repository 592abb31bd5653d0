/** `bun run replay` (dev/replay.ts): a dry run over a topology file counts per partition; usage errors exit 2. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { MockCluster, Producer } from "../../shared/kafka/index.ts";
import { uniqueName } from "../../dev/support/services.ts";
import { tempDir } from "../../dev/support/temp-dir.ts";

const REPLAY = resolve(import.meta.dir, "../../dev/replay.ts");

const run = (args: string[]) => {
  const p = Bun.spawnSync([process.execPath, REPLAY, ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
};

describe("bun run replay", () => {
  let mock: MockCluster;
  let dir: string;
  let file: string;
  const topic = uniqueName("replay-cli").replaceAll("_", "-");

  beforeAll(async () => {
    mock = await MockCluster.start({ brokers: 1, topics: [{ name: topic, partitions: 2 }] });
    const p = new Producer({ config: { "bootstrap.servers": mock.bootstraps } });
    await p.sendBatch(Array.from({ length: 30 }, (_, i) => ({ topic, partition: i % 2, value: `v${i}` })));
    await p.close();
    dir = tempDir("replay-cli").dir;
    file = join(dir, "t.yaml");
    await Bun.write(
      file,
      `name: replay-cli\nsource:\n  kafka:\n    brokers: "${mock.bootstraps}"\n    topics: ["${topic}"]\nstages:\n  - enrich: {}\n  - persist:\n      url: "postgres://postgres@127.0.0.1:5432/test"\n`,
    );
  });
  afterAll(async () => {
    await mock.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("--dry-run counts the whole topic per partition and prints JSON last", () => {
    const r = run(["--topology", file, "--dry-run", "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expect(out.dry_run).toBe(true);
    expect(out.messages).toBe(30);
    expect(out.replayed).toBe(0);
    expect(out.partitions).toEqual([
      { partition: 0, start: 0, end: 15 },
      { partition: 1, start: 0, end: 15 },
    ]);
    expect(out.group).toStartWith("topofleet-replay-cli-replay-");
  }, 60_000);

  test("usage errors exit 2 naming the flag", () => {
    expect(run(["--dry-run"]).stderr).toContain("--topology");
    const both = run(["--topology", file, "--dlq", "--from", "2024-01-01T00:00:00Z"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--dlq");
    const badTime = run(["--topology", file, "--from", "last tuesday"]);
    expect(badTime.code).toBe(2);
    expect(badTime.stderr).toContain("--from");
  });
});
