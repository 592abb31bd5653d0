/** docs/reference/cli.md: the `topology` command's flags (shared/cli/args.ts) and the dev tools' --help texts. */
import { FLAGS, USAGE } from "../../shared/cli/args.ts";
import { USAGE as BENCH_USAGE } from "../bench/e2e.ts";
import { USAGE as RECOVERY_USAGE } from "../bench/recovery.ts";
import { USAGE as SUSTAINED_USAGE } from "../bench/sustained-max.ts";
import { USAGE as GEN_USAGE } from "../gen.ts";
import { USAGE as REPLAY_USAGE } from "../replay.ts";
import { code, page, table } from "./markdown.ts";

const GROUP = { mode: "mode (at most one)", run: "run only", option: "any" } as const;

/** The dev tools, each with the file that owns its usage text. */
const TOOLS: readonly { command: string; file: string; usage: string }[] = [
  { command: "bun run gen", file: "dev/gen.ts", usage: GEN_USAGE },
  { command: "bun run replay", file: "dev/replay.ts", usage: REPLAY_USAGE },
  { command: "bun run bench", file: "dev/bench/e2e.ts", usage: BENCH_USAGE },
  { command: "bun dev/bench/sustained-max.ts", file: "dev/bench/sustained-max.ts", usage: SUSTAINED_USAGE },
  { command: "bun dev/bench/recovery.ts", file: "dev/bench/recovery.ts", usage: RECOVERY_USAGE },
];

const fence = (text: string) => ["```", text.trimEnd(), "```"].join("\n");

/** The page text. */
export function cliPage(): string {
  const flagRows = FLAGS.map((f) => [code(f.value ? `${f.flag} ${f.value}` : f.flag), GROUP[f.group], [f.help, f.more].filter(Boolean).join(". ")]);
  const sections = [
    "The commands and their flags. How to use them is in the [guide](../guide.md#running-a-topology-the-topology-command); " +
      "the environment variables they read are in [environment.md](environment.md).",
    "## bun run topology",
    "`bun run topology <topology.yaml> [flags]`, also installed as the `topofleet` bin (`workers/topology.ts`). Without a mode flag it " +
      "runs the fleet until Ctrl-C / SIGTERM (or `--max-events`). Flags take `--flag value` or `--flag=value`; a mode flag " +
      "excludes the others, and run-only flags are refused with a mode. From `shared/cli/args.ts`:",
    table(["flag", "applies", "meaning"], flagRows),
    "`--help` prints:",
    fence(USAGE),
    ...TOOLS.flatMap((t) => [`## ${t.command}`, `From ${code(t.file)}; \`${t.command} --help\` prints:`, fence(t.usage)]),
  ];
  return page("Command-line reference", ["shared/cli/args.ts", ...TOOLS.map((t) => t.file)], sections);
}
