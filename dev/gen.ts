/**
 * `bun run gen`: produce CloudEvents into Kafka at a steady rate, print the achieved rate every second and
 * a summary, and write the run's manifest for the audit. Thin: the generator is shared/loadgen.
 */
import { MockCluster, Producer, mockPartitionsFor } from "../shared/kafka/index.ts";
import { Flags, parseFlags, runCli, usageError, GENERATOR_FLAG_SPEC, generatorConfigFromFlags } from "../shared/loadgen/cli-flags.ts";
import { GENERATOR_PRODUCER_CONFIG, KEY_MODES, runGenerator, type GeneratorProgress } from "../shared/loadgen/index.ts";

/** The --help text (also in docs/reference/cli.md). */
export const USAGE = `Usage: bun run gen [flags]

Produces CloudEvents 1.0 (structured JSON and binary mode) with injected duplicates and invalid events.

  --brokers LIST        Kafka bootstrap servers (default: $KAFKA_BROKERS; when neither is set, an in-process
                        mock cluster is started, its bootstraps printed, and kept alive after producing
                        until Ctrl-C: the mock lives only as long as this process, so it is mainly for
                        benchmarks and tests)
  --topic NAME          topic to produce to (default: events)
  --partitions N        partitions when the topic is created on the mock (default: enough to hold the run)
  --events N            stop after N events
  --duration D          stop after D (e.g. 60s, 5m); default without --events: run until Ctrl-C
  --rate R              events per second (default 10000; 0 = as fast as Kafka takes them)
  --tenants N           distinct tenants (default 8)
  --dup-ratio X         share of exact duplicates, 0..1 (default 0.02)
  --invalid-ratio X     share of invalid events, 0..1 (default 0.01)
  --binary-ratio X      share of valid events in CloudEvents binary mode, 0..1 (default 0.1)
  --size BYTES          payload (data) bytes per event (default 200)
  --key MODE            record key: tenant | id | none (default tenant)
  --compression C       none | gzip | snappy | lz4 | zstd (default none)
  --seed N              PRNG seed (default random; recorded in the manifest)
  --manifest FILE       write the run manifest (JSON) here
  --json                print a JSON summary as the last stdout line (progress goes to stderr)
  -h, --help            show this help
`;

const SPEC = {
  ...GENERATOR_FLAG_SPEC,
  brokers: { type: "string" },
  topic: { type: "string" },
  manifest: { type: "string" },
} as const;

const COMPRESSION = ["none", "gzip", "snappy", "lz4", "zstd"] as const;

async function main(): Promise<number> {
  const f = new Flags(parseFlags(Bun.argv.slice(2), SPEC).values);
  if (f.bool("help")) {
    console.log(USAGE);
    return 0;
  }
  const json = f.bool("json");
  const say = json ? (s: string) => console.error(s) : (s: string) => console.log(s);
  const topic = f.string("topic", "events");
  const events = f.int("events", null, 1);
  const durationMs = f.duration("duration", null);
  const config = generatorConfigFromFlags(f, f.number("rate", 10_000), events);
  const payloadBytes = config.payloadBytes;
  const key = f.oneOf("key", KEY_MODES, "tenant");
  const compression = f.oneOf("compression", COMPRESSION, "none");
  const seed = f.int("seed", null, 0) ?? undefined;

  let brokers = f.string("brokers") ?? process.env.KAFKA_BROKERS;
  let mock: MockCluster | null = null;
  if (!brokers) {
    const volume = events ?? (durationMs !== null && config.rate > 0 ? Math.ceil((config.rate * durationMs) / 1000) : 1_000_000);
    const partitions = f.int("partitions", mockPartitionsFor(volume, payloadBytes + 250), 1);
    mock = await MockCluster.start({ brokers: 1, topics: [{ name: topic, partitions }] });
    brokers = mock.bootstraps;
    console.error(`mock cluster: bootstraps ${brokers}, topic ${topic} with ${partitions} partitions (kept alive until Ctrl-C)`);
  }

  const producer = new Producer({
    config: { "bootstrap.servers": brokers, ...GENERATOR_PRODUCER_CONFIG, "compression.type": compression },
  });
  const abort = new AbortController();
  let interrupted = 0;
  const onSignal = () => {
    interrupted++;
    if (interrupted > 1 || abort.signal.aborted) process.exit(130);
    abort.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  let last: GeneratorProgress = { messages: 0, unique: 0, duplicates: 0, invalid: 0, elapsedMs: 0 };
  let prev = { messages: 0, at: performance.now() };
  const ticker = setInterval(() => {
    const now = performance.now();
    const rate = ((last.messages - prev.messages) * 1000) / (now - prev.at);
    prev = { messages: last.messages, at: now };
    say(`${(last.elapsedMs / 1000).toFixed(0).padStart(4)}s  ${last.messages} acked  ${Math.round(rate)}/s  (target ${config.rate > 0 ? config.rate : "max"})`);
  }, 1000);

  const result = await runGenerator({
    producer,
    topic,
    config,
    key,
    seed,
    durationMs: durationMs ?? undefined,
    signal: abort.signal,
    manifest: f.string("manifest"),
    onProgress: (p) => (last = p),
  }).finally(() => clearInterval(ticker));
  await producer.close();

  const m = result.manifest;
  say(
    `run ${m.runId}: ${m.messages} messages in ${(result.elapsedMs / 1000).toFixed(1)} s (${Math.round(result.ratePerSec)}/s): ` +
      `${m.unique} unique, ${m.duplicates} duplicates, ${m.invalid.total} invalid, ${m.binary} binary mode` +
      (f.has("manifest") ? `; manifest ${f.string("manifest")}` : ""),
  );
  say(`command: bun dev/gen.ts ${Bun.argv.slice(2).join(" ")}`);
  if (json)
    console.log(
      JSON.stringify({
        run_id: m.runId,
        messages: m.messages,
        unique: m.unique,
        duplicates: m.duplicates,
        invalid: m.invalid.total,
        binary: m.binary,
        elapsed_ms: Math.round(result.elapsedMs),
        events_per_s: Math.round(result.ratePerSec),
        manifest: f.string("manifest") ?? null,
      }),
    );
  if (mock) {
    if (!abort.signal.aborted) {
      console.error(`mock cluster still serving at ${mock.bootstraps}; Ctrl-C to stop`);
      await new Promise<void>((resolve) => abort.signal.addEventListener("abort", () => resolve(), { once: true }));
    }
    await mock.stop();
  }
  return 0;
}

// Only when run as a command: the docs generator imports this file for USAGE.
if (import.meta.main) runCli(main);
