/**
 * Rate limit for repeated librdkafka log lines: a broker that stays unreachable logs the same FAIL line
 * every reconnect backoff, forever. A line whose facility and text (numbers aside, so "after 12ms" and
 * "after 40ms" count as the same, and librdkafka's own "N identical error(s) suppressed" too) were logged within the window is held back and counted; the next one
 * let through carries how many were held back.
 */

/** Default window: the same line at most once per 30 s. */
export const LOG_REPEAT_WINDOW_MS = 30_000;
/** Distinct lines remembered; older ones are forgotten first (a pathological stream cannot grow memory). */
const MAX_KEYS = 1000;

/** librdkafka's own repeat counter inside a line ("…, 3 identical error(s) suppressed)"), not part of what the line says. */
const IDENTICAL_SUFFIX = /,? \d+ identical error\(s\) suppressed/;

/** What the limiter needs of a line. */
export interface RateLimitedLine {
  fac: string;
  message: string;
}

interface Seen<L> {
  at: number;
  suppressed: number;
  last: L;
}

/** Decides per line whether to log it now; keeps counts of what it held back. */
export class LogRateLimiter<L extends RateLimitedLine = RateLimitedLine> {
  private readonly seen = new Map<string, Seen<L>>();

  constructor(private readonly windowMs = LOG_REPEAT_WINDOW_MS) {}

  /** null when the line is held back, else the number of like lines held back since it was last logged. */
  admit(line: L, now = Date.now()): number | null {
    const key = `${line.fac}|${line.message.replace(IDENTICAL_SUFFIX, "").replace(/\d+/g, "#")}`;
    const s = this.seen.get(key);
    if (s && now - s.at < this.windowMs) {
      s.suppressed++;
      s.last = line;
      return null;
    }
    const suppressed = s?.suppressed ?? 0;
    this.seen.delete(key);
    this.seen.set(key, { at: now, suppressed: 0, last: line });
    if (this.seen.size > MAX_KEYS) this.seen.delete(this.seen.keys().next().value!);
    return suppressed;
  }

  /** The last of each kind of line still held back, with how many (for a closing summary); forgets them all. */
  drainSuppressed(): Array<{ last: L; suppressed: number }> {
    const out = [...this.seen.values()].filter((s) => s.suppressed > 0).map((s) => ({ last: s.last, suppressed: s.suppressed }));
    this.seen.clear();
    return out;
  }
}
