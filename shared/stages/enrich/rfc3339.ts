/**
 * Strict RFC 3339 timestamps without Date parsing: `Date.parse` accepts far more than RFC 3339 (and
 * rejects leap seconds), so a char scan decides validity and integer calendar math gives the instant.
 *
 * The text handed to PostgreSQL is normalized to UTC ("…Z") with the original fraction digits (trailing
 * zeros trimmed), so the same instant always yields the same text and PostgreSQL rounds sub-microsecond
 * digits itself, exactly as it would for the original string. A leap second (:60) maps to the next
 * second, which is also what PostgreSQL does with it.
 */

/** An event time: epoch milliseconds (sub-millisecond digits kept as a fraction) and its normalized text. */
export interface EventTime {
  ms: number;
  text: string;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const PAD2: string[] = Array.from({ length: 100 }, (_, i) => (i < 10 ? "0" : "") + i);
const PAD3: string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));

/** Smallest and largest epoch seconds we emit: PostgreSQL has no year 0, and 4-digit years keep the text RFC 3339. */
const MIN_SECONDS = -62135596800; // 0001-01-01T00:00:00Z
const MAX_SECONDS = 253402300799; // 9999-12-31T23:59:59Z

/**
 * Most fraction digits accepted (nanoseconds, the finest clock producers have). RFC 3339 sets no bound, but
 * PostgreSQL refuses a timestamp text longer than 128 characters (MAXDATELEN; "invalid input syntax") and
 * keeps microseconds only, so unbounded digits would pass here and fail the batch there.
 */
export const MAX_FRACTION_DIGITS = 9;

const isLeapYear = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** "YYYY-MM-DDTHH:MM:SS" (no fraction, no zone) of whole epoch seconds in UTC (civil_from_days). */
function formatUtcSeconds(secs: number): string {
  const days = Math.floor(secs / 86400);
  let sod = secs - days * 86400;
  const h = Math.floor(sod / 3600);
  sod -= h * 3600;
  const mi = Math.floor(sod / 60);
  const se = sod - mi * 60;
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return `${PAD2[Math.floor(y / 100)]}${PAD2[y % 100]}-${PAD2[m]}-${PAD2[d]}T${PAD2[h]}:${PAD2[mi]}:${PAD2[se]}`;
}

/** Two ASCII digits at i as a number, or -1. */
function digits2(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/**
 * Parses an RFC 3339 `date-time` (section 5.6): `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, "T" and "Z" in
 * either case, leap second only at 23:59:60 UTC. Returns the time, or a short reason why it is invalid.
 */
export function parseRfc3339(s: string): EventTime | string {
  const n = s.length;
  if (n < 20) return "too short for YYYY-MM-DDTHH:MM:SSZ";
  const yHi = digits2(s, 0);
  const yLo = digits2(s, 2);
  const month = digits2(s, 5);
  const day = digits2(s, 8);
  const hour = digits2(s, 11);
  const minute = digits2(s, 14);
  const second = digits2(s, 17);
  const t = s.charCodeAt(10);
  if (yHi < 0 || yLo < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return "expected digits in YYYY-MM-DDTHH:MM:SS";
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return "expected '-' between date fields";
  if (t !== 84 && t !== 116) return "expected 'T' between date and time";
  if (s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return "expected ':' between time fields";
  const year = yHi * 100 + yLo;
  if (month < 1 || month > 12) return `month ${month} out of range`;
  const dim = month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1];
  if (day < 1 || day > dim) return `day ${day} out of range for ${PAD2[yHi]}${PAD2[yLo]}-${PAD2[month]}`;
  if (hour > 23) return `hour ${hour} out of range`;
  if (minute > 59) return `minute ${minute} out of range`;
  if (second > 60) return `second ${second} out of range`;

  let p = 19;
  let fracStart = 0;
  let fracEnd = 0;
  if (s.charCodeAt(p) === 46) {
    fracStart = ++p;
    while (p < n && isDigit(s.charCodeAt(p))) p++;
    if (p === fracStart) return "empty fraction of a second";
    if (p - fracStart > MAX_FRACTION_DIGITS) return `fraction of a second has ${p - fracStart} digits, more than ${MAX_FRACTION_DIGITS}`;
    fracEnd = p;
    // Trailing zeros carry no information: trim them so equal instants get equal text.
    while (fracEnd > fracStart && s.charCodeAt(fracEnd - 1) === 48) fracEnd--;
  }
  let offset = 0;
  const z = s.charCodeAt(p);
  if (z === 90 || z === 122) p++;
  else if (z === 43 || z === 45) {
    const oh = digits2(s, p + 1);
    const om = digits2(s, p + 4);
    if (oh < 0 || om < 0 || s.charCodeAt(p + 3) !== 58) return "expected a ±HH:MM offset";
    if (oh > 23 || om > 59) return "offset out of range";
    offset = (z === 43 ? 1 : -1) * (oh * 3600 + om * 60);
    p += 6;
  } else return "expected 'Z' or a ±HH:MM offset";
  if (p !== n) return "unexpected characters after the offset";

  const local = hour * 3600 + minute * 60;
  if (second === 60) {
    // RFC 3339 5.7: a leap second is the last second of a UTC day, whatever the local offset.
    const utcMinuteOfDay = (((local - offset) % 86400) + 86400) % 86400;
    if (utcMinuteOfDay !== 86340) return "second 60 is only valid at 23:59:60 UTC";
  }
  const secs = daysFromCivil(year, month, day) * 86400 + local + second - offset;
  if (secs < MIN_SECONDS || secs > MAX_SECONDS) return "outside 0001-01-01..9999-12-31 UTC";

  let ms = secs * 1000;
  const digits = fracEnd - fracStart;
  if (digits > 0) {
    // Whole milliseconds as an integer (the first three digits, read in place), the rest as a fraction:
    // exact for the common 1-3 digit case.
    let whole = 0;
    for (let k = 0; k < 3; k++) whole = whole * 10 + (k < digits ? s.charCodeAt(fracStart + k) - 48 : 0);
    ms += whole;
    if (digits > 3) ms += Number("0." + s.slice(fracStart + 3, fracEnd));
  }
  // Most producers already write the normalized form (upper-case T, Z, no trailing zeros): reuse the input.
  const canonical = z === 90 && t === 84 && second !== 60 && (digits === 0 ? p === 20 : fracEnd === p - 1);
  if (canonical) return { ms, text: s };
  return { ms, text: `${formatUtcSeconds(secs)}${digits === 0 ? "" : "." + s.slice(fracStart, fracEnd)}Z` };
}

/** The event time of an epoch-millisecond instant (Kafka timestamp, ingest time), or null outside 0001..9999. */
export function timeFromEpochMs(epochMs: number): EventTime | null {
  const whole = Math.floor(epochMs);
  const secs = Math.floor(whole / 1000);
  if (!(secs >= MIN_SECONDS && secs <= MAX_SECONDS)) return null;
  return { ms: whole, text: `${formatUtcSeconds(secs)}.${PAD3[whole - secs * 1000]}Z` };
}
