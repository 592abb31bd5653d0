/**
 * RFC 3986 checks for the CloudEvents `source` (URI-reference) and `dataschema` (URI) attributes, and the
 * tenant-from-source rule. Char scans with a lookup table instead of regexes: they run once per event.
 */

// RFC 3986 section 2: unreserved / sub-delims / ":" "@" "/" "?" (pchar, query, fragment); "%" is checked apart.
const ALLOWED = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/?") {
  ALLOWED[c.charCodeAt(0)] = 1;
}
const HEX = new Uint8Array(128);
for (const c of "0123456789abcdefABCDEF") HEX[c.charCodeAt(0)] = 1;

const isAlpha = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isSchemeChar = (c: number): boolean => isAlpha(c) || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46;

/** Length of the scheme (without ":") when `s` starts with one, 0 when it is a relative reference, -1 when malformed. */
function schemeLength(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 58) {
      // A ':' before any '/', '?' or '#' ends a scheme (RFC 3986 4.2: a relative path cannot have one there).
      if (i === 0 || !isAlpha(s.charCodeAt(0))) return -1;
      for (let j = 1; j < i; j++) if (!isSchemeChar(s.charCodeAt(j))) return -1;
      return i;
    }
    if (c === 47 || c === 63 || c === 35) return 0;
  }
  return 0;
}

/** Why `s` is not an RFC 3986 URI-reference, or null when it is one (empty is rejected: CloudEvents requires non-empty). */
export function uriReferenceProblem(s: string): string | null {
  if (s.length === 0) return "must be a non-empty URI-reference";
  const scheme = schemeLength(s);
  if (scheme < 0) return "has a malformed scheme";
  // '[' and ']' are only legal inside the authority (IP literals): find where the authority ends.
  const p = scheme > 0 ? scheme + 1 : 0;
  let authorityEnd = p;
  if (s.charCodeAt(p) === 47 && s.charCodeAt(p + 1) === 47) {
    authorityEnd = p + 2;
    while (authorityEnd < s.length) {
      const c = s.charCodeAt(authorityEnd);
      if (c === 47 || c === 63 || c === 35) break;
      authorityEnd++;
    }
  }
  let fragment = false;
  for (let i = p; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37) {
      if (!(HEX[s.charCodeAt(i + 1)] && HEX[s.charCodeAt(i + 2)])) return `has a bad percent-encoding at ${i}`;
      i += 2;
    } else if (c === 35) {
      if (fragment) return "has a second '#'";
      fragment = true;
    } else if (c === 91 || c === 93) {
      if (i >= authorityEnd) return `has '${s[i]}' outside the authority`;
    } else if (c >= 128 || !ALLOWED[c]) {
      return `has a character not allowed in a URI at ${i} (${JSON.stringify(s[i])})`;
    }
  }
  return null;
}

/** Why `s` is not an absolute RFC 3986 URI (scheme required), or null when it is one. */
export function uriProblem(s: string): string | null {
  const problem = uriReferenceProblem(s);
  if (problem) return problem;
  return schemeLength(s) > 0 ? null : "must be an absolute URI (with a scheme)";
}

/**
 * The tenant a source names, for `tenantFromSource`: the first non-empty segment of the source's path
 * (scheme, authority, query and fragment removed), skipping a leading `tenants` segment. A path without
 * "/" (e.g. "urn:acme:orders") names no tenant. Segments are returned as written (not percent-decoded).
 *
 *   "/tenants/acme/orders" -> "acme"      "/acme/orders" -> "acme"      "https://api.example.com/tenants/acme/x" -> "acme"
 *   "//edge-1/acme/orders" -> "acme"      "orders" -> null               "urn:acme:orders" -> null
 */
export function tenantFromSource(source: string): string | null {
  let end = source.length;
  for (let i = 0; i < end; i++) {
    const c = source.charCodeAt(i);
    if (c === 63 || c === 35) end = i;
  }
  let p = Math.max(0, schemeLength(source));
  if (p > 0) p++;
  if (source.charCodeAt(p) === 47 && source.charCodeAt(p + 1) === 47) {
    p += 2;
    while (p < end && source.charCodeAt(p) !== 47) p++;
  }
  const slash = source.indexOf("/", p);
  if (slash === -1 || slash >= end) return null;
  // Scan the segments instead of split(): this runs once per event.
  let skippedTenants = false;
  while (p < end) {
    while (p < end && source.charCodeAt(p) === 47) p++;
    let q = p;
    while (q < end && source.charCodeAt(q) !== 47) q++;
    if (q === p) break;
    const segment = source.slice(p, q);
    if (skippedTenants || segment !== "tenants") return segment;
    skippedTenants = true;
    p = q;
  }
  return null;
}
