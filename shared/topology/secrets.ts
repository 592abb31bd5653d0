/**
 * What counts as a secret in a topology: passwords inside URLs, and properties whose name says so.
 * Shared by the loader (warn about literal secrets) and redaction (explain, logs).
 */

const SECRET_KEY_RE = /password|passwd|secret|token|credential|private[._-]?key/i;

/** True for property names that hold secrets (`sasl.password`, `ssl.key.password`, `*secret*`, `*token*`). */
export function isSecretKey(name: string): boolean {
  return SECRET_KEY_RE.test(name);
}

// scheme://user:password@host — the password is what sits between the first ':' of the userinfo and the last '@'.
const URL_USERINFO_RE = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i;

/** [start, end) of the password inside a URL string, or undefined when the URL carries none. */
export function urlPasswordRange(value: string): [number, number] | undefined {
  const m = URL_USERINFO_RE.exec(value);
  if (!m) return undefined;
  const userinfo = m[2]!;
  const colon = userinfo.indexOf(":");
  if (colon < 0 || colon === userinfo.length - 1) return undefined;
  const start = m[1]!.length + colon + 1;
  return [start, m[1]!.length + userinfo.length];
}

/** The URL with its password replaced by `***` (unchanged when it has none). */
export function redactUrl(value: string): string {
  const r = urlPasswordRange(value);
  return r ? `${value.slice(0, r[0])}***${value.slice(r[1])}` : value;
}

/** Placeholder printed instead of a secret-looking property's value. */
export const REDACTED = "[redacted]";
