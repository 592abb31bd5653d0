/**
 * `bun run replay`: re-consume a time range of a topic, or a whole dead-letter topic, into a topology's
 * stages under a new consumer group. Thin: the logic is shared/replay.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Flags, parseFlags, runCli, usageError } from "../shared/loadgen/cli-flags.ts";
import { applyLaunchOverrides, sourceBrokers } from "../shared/runtime/engine/kafka-config.ts";
import { parseTimestamp, runReplay, type ReplayProgress } from "../shared/replay/index.ts";
import { createLogger } from "../shared/telemetry/logger.ts";
import { setKafkaLogger } from "../shared/kafka/index.ts";
import { loadTopology } from "../shared/topology/index.ts";

/** The --help text (also in docs/reference/cli.md). */
export const USAGE = `Usage: bun run replay --topology FILE [flags]

Re-runs already-consumed events through the topology's stages (enrich, dedupe, persist) under a new consumer
group, then stops. Events already in the table add no rows (dedupe + insert-or-ignore).

  --topology FILE     the topology whose stages process the replay (required)
  --topic NAME        topic to replay (default: the topology's first source topic)
  --dlq               replay the topology's dead-letter topic, all of it (engine headers are stripped)
  --from TIME         first event time to replay: RFC 3339 (2024-05-01T12:00:00Z) or epoch ms (default: beginning)
  --to TIME           replay events before TIME (exclusive; default: the end at start-up)
  --group NAME        consumer group for the replay (default: <topology group>-replay-<timestamp>); must be new
  --brokers LIST      bootstrap servers (default: the topology's; required for a mock source)
  --dry-run           only count what would be replayed, per partition
  --json              print a JSON summary as the last stdout line
  -h, --help

Times select by Kafka record timestamp (offsetsForTimes): the first offset at or after --from up to the first
offset at or after --to, per partition. A persist url "embedded" cannot be replayed into: give a real URL.
`;

const SPEC = {
  topology: { type: "string" },
  topic: { type: "string" },
  dlq: { type: "boolean" },
  from: { type: "string" },
  to: { type: "string" },
  group: { type: "string" },
  brokers: { type: "string" },
  "dry-run": { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

async function main(): Promise<number> {
  const f = new Flags(parseFlags(Bun.argv.slice(2), SPEC).values);
  if (f.bool("help")) {
    console.log(USAGE);
    return 0;
  }
  const file = f.string("topology");
  if (!file) throw usageError("--topology FILE is required");
  if (f.bool("dlq") && (f.has("topic") || f.has("from") || f.has("to"))) throw usageError("--dlq replays the whole dead-letter topic: it takes no --topic, --from or --to");
  const json = f.bool("json");
  const say = json ? (s: string) => console.error(s) : (s: string) => console.log(s);
  const from = f.has("from") ? parseTimestamp(f.string("from")!, "from") : null;
  const to = f.has("to") ? parseTimestamp(f.string("to")!, "to") : null;
  if (from !== null && to !== null && to <= from) throw usageError("--to must be after --from");

  const loaded = await loadTopology(file, { env: process.env });
  const topology = applyLaunchOverrides(loaded, { brokersOverride: null, databaseUrlOverride: null });
  const brokers = sourceBrokers(topology, { brokersOverride: f.string("brokers") ?? null, databaseUrlOverride: null });
  const topic = f.bool("dlq") ? topology.deadLetter.topic : (f.string("topic") ?? topology.source.topics[0]);
  if (topic.startsWith("^")) throw usageError(`the topology subscribes to a pattern (${topic}): name the topic with --topic`);
  const group = f.string("group") ?? `${topology.source.group}-replay-${Date.now()}`;
  const logger = createLogger({ level: process.env.TOPOFLEET_LOG_LEVEL ?? topology.log.level, component: "replay" });
  setKafkaLogger(logger);
  const dataDir = mkdtempSync(join(tmpdir(), "tf-replay-"));

  const abort = new AbortController();
  process.on("SIGINT", () => (abort.signal.aborted ? process.exit(130) : abort.abort()));
  process.on("SIGTERM", () => abort.abort());
  let last: ReplayProgress | null = null;
  const ticker = setInterval(() => last && say(`  replayed ${last.replayed} (persisted ${last.persisted}, duplicates ${last.duplicates}, invalid ${last.invalid})`), 2000);
  try {
    const r = await runReplay({
      topology,
      brokers,
      topic,
      window: { from, to },
      group,
      dryRun: f.bool("dry-run"),
      logger,
      dataDir,
      signal: abort.signal,
      onProgress: (p) => (last = p),
    });
    const perPartition = r.plan.ranges.filter((x) => x.end > x.start).map((x) => `p${x.partition} [${x.start}, ${x.end})`);
    say(`${r.dryRun ? "would replay" : "replayed"} ${r.dryRun ? r.plan.messages : r.replayed} of ${r.plan.messages} messages of ${topic} under group ${group}`);
    if (perPartition.length) say(`  ${perPartition.join(", ")}`);
    if (!r.dryRun) say(`  persisted ${r.persisted}, duplicates ${r.duplicates}, invalid ${r.invalid}${abort.signal.aborted ? " (interrupted: running the replay again is safe, events already persisted add no rows)" : ""}`);
    if (r.deletedBeforeRead > 0) say(`  LOST: ${r.deletedBeforeRead} events of the range were deleted by the broker (retention) before the replay read them`);
    if (json)
      console.log(
        JSON.stringify({
          topic,
          group,
          dry_run: r.dryRun,
          messages: r.plan.messages,
          replayed: r.replayed,
          persisted: r.persisted,
          duplicates: r.duplicates,
          invalid: r.invalid,
          deleted_before_read: r.deletedBeforeRead,
          partitions: r.plan.ranges,
        }),
      );
    // Part of the range never reached the table: the replay did not do what was asked.
    return r.deletedBeforeRead > 0 ? 1 : 0;
  } finally {
    clearInterval(ticker);
    rmSync(dataDir, { recursive: true, force: true });
    logger.flush();
  }
}

// Only when run as a command: the docs generator imports this file for USAGE.
if (import.meta.main) runCli(main);
