/**
 * What counts as a secret in a topology: passwords inside URLs (userinfo and secret query parameters such as
 * `?password=`), and properties whose name says so. Shared by the loader (warn about literal secrets),
 * redaction (explain) and the logger (every line passes through redactSecretsInText).
 */

// Besides the obvious words: `ssl.key.pem` (a private key in PEM), `sasl.jaas.config` (carries
// `password="…"`), `sasl.oauthbearer.config` (may carry a client secret), API keys.
const SECRET_KEY_RE = /password|passwd|secret|token|credential|private[._-]?key|key\.pem|jaas|oauthbearer\.config|api[._-]?key/i;

// Maps whose every value is a secret whatever its name: HTTP headers sent to an exporter carry credentials
// under vendor-chosen names (`authorization`, `x-honeycomb-team`, `dd-api-key`, …).
const SECRET_MAP_KEYS = new Set(["headers"]);

/** True for mappings whose every value is a secret (the tracing exporter's `headers`). */
export function isSecretMap(name: string): boolean {
  return SECRET_MAP_KEYS.has(name);
}

/** True for property names that hold secrets (`sasl.password`, `ssl.key.pem`, `sasl.jaas.config`, `*secret*`, `*token*`…). */
export function isSecretKey(name: string): boolean {
  return SECRET_KEY_RE.test(name);
}

// scheme://user:password@host — the password is what sits between the first ':' of the userinfo and the last '@'.
const URL_USERINFO_RE = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i;
const URL_SCHEME_RE = /^[a-z][a-z0-9+.-]*:\/\//i;

/** [start, end) of every secret inside a URL string: the userinfo password and secret query values (`?password=`, `sslpassword=`). */
export function urlSecretRanges(value: string): [number, number][] {
  if (!URL_SCHEME_RE.test(value)) return [];
  const ranges: [number, number][] = [];
  const m = URL_USERINFO_RE.exec(value);
  if (m) {
    const userinfo = m[2]!;
    const colon = userinfo.indexOf(":");
    if (colon >= 0 && colon < userinfo.length - 1) ranges.push([m[1]!.length + colon + 1, m[1]!.length + userinfo.length]);
  }
  const q = value.indexOf("?");
  if (q >= 0) {
    const hash = value.indexOf("#", q);
    const end = hash < 0 ? value.length : hash;
    let at = q + 1;
    for (const param of value.slice(q + 1, end).split("&")) {
      const eq = param.indexOf("=");
      if (eq > 0 && eq < param.length - 1 && isSecretKey(safeDecode(param.slice(0, eq)))) ranges.push([at + eq + 1, at + param.length]);
      at += param.length + 1;
    }
  }
  return ranges;
}

/** The URL with every secret in it (password, secret query values) replaced by `***` (unchanged when it has none). */
export function redactUrl(value: string): string {
  const ranges = urlSecretRanges(value);
  let out = value;
  for (const [start, end] of ranges.reverse()) out = `${out.slice(0, start)}***${out.slice(end)}`;
  return out;
}

// A URL inside free text (a log line, an error message): ends at whitespace, a quote or a bracket.
const URL_IN_TEXT_RE = /[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;
// `password=…`, `password="…"`, `clientSecret=…` in free text (JAAS and OAUTHBEARER configs, libpq strings,
// driver messages). JSON-escaped quotes (\") count as quotes.
const ASSIGNMENT_RE = /\b([\w.-]*(?:password|passwd|secret|token|credential)[\w.-]*)(\s*=\s*)(\\?"[^"\\]*\\?"|\\?'[^'\\]*\\?'|[^\s"'&;,)]+)/gi;
// A PEM private key block, escaped or not.
const PEM_RE = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g;

/** Free text with URL secrets, `secret=value` assignments and PEM private keys replaced: the last line of defence for logs. */
export function redactSecretsInText(text: string): string {
  if (!text.includes("://") && !text.includes("=") && !text.includes("-----BEGIN")) return text;
  return text
    .replace(PEM_RE, REDACTED)
    .replace(URL_IN_TEXT_RE, (url) => redactUrl(url))
    .replace(ASSIGNMENT_RE, (_all, key: string, eq: string) => `${key}${eq}***`);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Placeholder printed instead of a secret-looking property's value. */
export const REDACTED = "[redacted]";
