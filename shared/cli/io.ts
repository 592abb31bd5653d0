/** The CLI's window on its process: output streams, environment, signals, exit. */

/** Where the CLI writes, and what it reads from its environment (tests pass their own). */
export interface CliIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  env: Record<string, string | undefined>;
  /** stdout is a terminal: the live line is rewritten in place. */
  isTTY: boolean;
  /** Installs a signal handler (the run mode drains on SIGINT/SIGTERM); returns an uninstaller. */
  onSignal(signal: "SIGINT" | "SIGTERM", handler: () => void): () => void;
  /** Ends the process at once (second Ctrl-C). */
  exit(code: number): never;
}

/** The real process's IO. */
export function processIO(): CliIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    isTTY: !!process.stdout.isTTY,
    onSignal(signal, handler) {
      process.on(signal, handler);
      return () => process.off(signal, handler);
    },
    exit: (code) => process.exit(code),
  };
}
