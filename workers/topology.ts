#!/usr/bin/env bun
/**
 * `bun run topology <file> [flags]` (also the `topofleet` bin): the supervisor and CLI entry point.
 * All logic lives in shared/cli; this file only runs it and exits with its code.
 */
import { runCli } from "../shared/cli/main.ts";

const code = await runCli(process.argv.slice(2));
// pino writes asynchronously; give it a tick to flush the last log lines before exiting.
setTimeout(() => process.exit(code), 20);
