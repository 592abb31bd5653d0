/** Command-line flags of the per-part benches (`--name value`, `--json`): one parser, the same messages everywhere. */

/** `--name N` as a number above `min` exclusive (0: positive) or at least 0 with `allowZero`; `def` when absent. */
export function numberFlag(name: string, def: number, opts: { allowZero?: boolean } = {}): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  const ok = Number.isFinite(v) && (opts.allowZero ? v >= 0 : v > 0);
  if (!ok) throw new Error(`--${name} needs a ${opts.allowZero ? "non-negative" : "positive"} number`);
  return v;
}

/** `--name value` restricted to `allowed`; `def` when absent. */
export function choiceFlag(name: string, def: string, allowed: string[]): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i < 0 ? def : process.argv[i + 1];
  if (!allowed.includes(v)) throw new Error(`--${name} must be one of ${allowed.join(", ")}`);
  return v;
}

/** True with `--json`: the figures go to stdout as JSON, progress lines to stderr. */
export const JSON_OUTPUT = process.argv.includes("--json");

/** A progress line: stdout normally, stderr under `--json` so stdout stays parseable. */
export function progress(line: string): void {
  if (JSON_OUTPUT) console.error(line);
  else console.log(line);
}
