/**
 * `${VAR}` / `${VAR:-default}` interpolation of one parsed YAML scalar (never of the raw text, so positions
 * stay right and an environment value can never inject YAML structure). `$${` is a literal `${`.
 * `:-` follows the shell: the default applies when the variable is unset or empty.
 */

/** Environment used for interpolation. */
export type Env = Record<string, string | undefined>;

/** A piece of the interpolated value and whether it came from the environment (for the literal-secret check). */
export interface Segment {
  text: string;
  fromEnv: boolean;
}

/** A reference that could not be resolved: missing variable or malformed `${...}`. */
export interface InterpolationProblem {
  /** Index in the scalar's value where the reference starts (to point at the exact column). */
  index: number;
  /** The `${...}` text as written, used to find the column in the source. */
  needle: string;
  message: string;
  missingVariable?: string;
}

/** Result of interpolating one scalar. */
export interface Interpolated {
  value: string;
  segments: Segment[];
  /** True when the scalar contained at least one `${...}` reference. */
  hadReference: boolean;
  problems: InterpolationProblem[];
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Interpolates environment references in one string value. */
export function interpolate(input: string, env: Env): Interpolated {
  const segments: Segment[] = [];
  const problems: InterpolationProblem[] = [];
  let hadReference = false;
  let literal = "";
  const flush = () => {
    if (literal) segments.push({ text: literal, fromEnv: false });
    literal = "";
  };
  let i = 0;
  while (i < input.length) {
    if (input.startsWith("$${", i)) {
      literal += "${";
      i += 3;
      continue;
    }
    if (!input.startsWith("${", i)) {
      literal += input[i];
      i++;
      continue;
    }
    hadReference = true;
    const close = input.indexOf("}", i + 2);
    if (close < 0) {
      problems.push({ index: i, needle: input.slice(i), message: "unterminated `${`: write `${VAR}`, or `$${` for a literal `${`" });
      literal += input.slice(i);
      break;
    }
    const body = input.slice(i + 2, close);
    const sep = body.indexOf(":-");
    const name = sep < 0 ? body : body.slice(0, sep);
    const needle = input.slice(i, close + 1);
    if (!NAME_RE.test(name)) {
      problems.push({ index: i, needle, message: `invalid variable reference \`${needle}\`: use \`\${NAME}\` or \`\${NAME:-default}\`` });
    } else {
      const set = env[name];
      if (set !== undefined && (set !== "" || sep < 0)) {
        flush();
        segments.push({ text: set, fromEnv: true });
      } else if (sep >= 0) {
        // A default written in the file is literal text, as far as secrets are concerned.
        literal += body.slice(sep + 2);
      } else {
        problems.push({
          index: i,
          needle,
          missingVariable: name,
          message: `environment variable ${name} is not set (set it, or give a default: \${${name}:-value})`,
        });
      }
    }
    i = close + 1;
  }
  flush();
  return { value: segments.map((s) => s.text).join(""), segments, hadReference, problems };
}

/** True when any character in [start, end) of the interpolated value was written literally in the file. */
export function hasLiteralIn(segments: readonly Segment[], start: number, end: number): boolean {
  let at = 0;
  for (const s of segments) {
    const next = at + s.text.length;
    if (!s.fromEnv && next > start && at < end) return true;
    at = next;
  }
  return false;
}
