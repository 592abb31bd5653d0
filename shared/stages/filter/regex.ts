/**
 * A bounded regular-expression matcher for filter expressions (`type matches "^com\.example\..*"`).
 *
 * Patterns come from topology files and the text they run on comes from producers, so a backtracking engine
 * (JavaScript's RegExp) could be made to spin for minutes by either side (`(a+)+$`, `.*.*.*x`). This one
 * compiles the pattern into a Thompson NFA and simulates it over the input once, keeping a set of states:
 * time is O(text length x states) whatever the pattern, and both are bounded (MAX_STATES, MAX_TEXT).
 *
 * The syntax is a common subset: literals, `.`, escapes (`\d \w \s \D \W \S` and escaped metacharacters),
 * classes `[a-z0-9_]` / `[^...]`, groups `(...)` / `(?:...)`, alternation `|`, quantifiers `* + ?` and
 * `{m}` `{m,}` `{m,n}`, and the anchors `^` (at the start) and `$` (at the end). No backreferences or
 * lookaround (they cannot be matched in linear time). The search is unanchored unless `^` / `$` say so.
 */

/** Longest pattern text accepted. */
export const MAX_PATTERN = 256;
/** Most NFA states a pattern may compile to (repetition counts multiply states). */
export const MAX_STATES = 512;
/** Longest text tested: a longer value never matches (it bounds the cost per event). */
export const MAX_TEXT = 8192;

/** A pattern the matcher does not accept; `at` is the 0-based offset in the pattern. */
export class PatternError extends Error {
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(message);
  }
}

type CharTest = (c: number) => boolean;

/** NFA state: a character test with one successor, or a split (epsilon) with up to two, or the match state. */
type State = { kind: "char"; test: CharTest; out: number } | { kind: "split"; out: number[] } | { kind: "match" };

/** Pattern AST. */
type Node =
  | { t: "char"; test: CharTest }
  | { t: "seq"; items: Node[] }
  | { t: "alt"; options: Node[] }
  | { t: "repeat"; node: Node; min: number; max: number };

const isDigit: CharTest = (c) => c >= 48 && c <= 57;
const isWord: CharTest = (c) => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isSpace: CharTest = (c) => c === 32 || (c >= 9 && c <= 13);
const not =
  (f: CharTest): CharTest =>
  (c) =>
    !f(c);
const CLASS_ESCAPES: Record<string, CharTest> = { d: isDigit, w: isWord, s: isSpace, D: not(isDigit), W: not(isWord), S: not(isSpace) };
const METACHARS = new Set([..."\\^$.|?*+()[]{}/-"]);

/** Parses a pattern into an AST (recursive descent; nesting is bounded by MAX_PATTERN). */
class Parser {
  pos = 0;
  anchoredStart = false;
  anchoredEnd = false;

  constructor(readonly src: string) {}

  parse(): Node {
    if (this.src.startsWith("^")) {
      this.anchoredStart = true;
      this.pos = 1;
    }
    const node = this.alternation();
    if (this.pos < this.src.length) throw new PatternError(this.src[this.pos] === ")" ? "unbalanced `)`" : `unexpected \`${this.src[this.pos]}\``, this.pos);
    return node;
  }

  private peek(): string | undefined {
    return this.src[this.pos];
  }

  private alternation(): Node {
    const options = [this.sequence()];
    while (this.peek() === "|") {
      this.pos++;
      options.push(this.sequence());
    }
    return options.length === 1 ? options[0]! : { t: "alt", options };
  }

  private sequence(): Node {
    const items: Node[] = [];
    for (let c = this.peek(); c !== undefined && c !== "|" && c !== ")"; c = this.peek()) {
      if (c === "$") {
        if (this.pos !== this.src.length - 1) throw new PatternError("`$` is supported only at the end of the pattern", this.pos);
        this.anchoredEnd = true;
        this.pos++;
        continue;
      }
      items.push(this.quantified(this.atom()));
    }
    return items.length === 1 ? items[0]! : { t: "seq", items };
  }

  private quantified(node: Node): Node {
    const at = this.pos;
    const c = this.peek();
    let min: number;
    let max: number;
    if (c === "*") [min, max] = [0, Infinity];
    else if (c === "+") [min, max] = [1, Infinity];
    else if (c === "?") [min, max] = [0, 1];
    else if (c === "{") {
      const m = /^\{(\d{1,3})(,(\d{0,3}))?\}/.exec(this.src.slice(this.pos));
      if (!m) throw new PatternError("a repetition is `{m}`, `{m,}` or `{m,n}` with numbers up to 999", at);
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
      if (max < min) throw new PatternError(`repetition {${min},${max}}: the maximum is below the minimum`, at);
      this.pos += m[0].length - 1;
    } else return node;
    this.pos++;
    const after = this.peek();
    if (after !== undefined && "*+?{".includes(after)) throw new PatternError("a quantifier cannot follow another (lazy and possessive forms are not supported)", this.pos);
    return { t: "repeat", node, min, max };
  }

  private atom(): Node {
    const at = this.pos;
    const c = this.src[this.pos++]!;
    if (c === "(") {
      if (this.src.startsWith("?:", this.pos)) this.pos += 2;
      else if (this.peek() === "?") throw new PatternError("lookaround and named groups are not supported", at);
      const inner = this.alternation();
      if (this.peek() !== ")") throw new PatternError("unclosed `(`", at);
      this.pos++;
      return inner;
    }
    if (c === "[") return { t: "char", test: this.charClass(at) };
    if (c === ".") return { t: "char", test: (x) => x !== 10 };
    if (c === "\\") return { t: "char", test: this.escape(at) };
    if ("*+?{".includes(c)) throw new PatternError(`\`${c}\` has nothing to repeat`, at);
    if (c === "^") throw new PatternError("`^` is supported only at the start of the pattern", at);
    const code = c.charCodeAt(0);
    return { t: "char", test: (x) => x === code };
  }

  private escape(at: number): CharTest {
    const e = this.src[this.pos++];
    if (e === undefined) throw new PatternError("the pattern ends with `\\`", at);
    const cls = CLASS_ESCAPES[e];
    if (cls) return cls;
    if (/[1-9k]/.test(e)) throw new PatternError("backreferences are not supported", at);
    const named: Record<string, number> = { n: 10, t: 9, r: 13 };
    const code = named[e] ?? (METACHARS.has(e) || !/[A-Za-z0-9]/.test(e) ? e.charCodeAt(0) : -1);
    if (code < 0) throw new PatternError(`unknown escape \`\\${e}\``, at);
    return (x) => x === code;
  }

  private charClass(at: number): CharTest {
    const negate = this.peek() === "^";
    if (negate) this.pos++;
    const tests: CharTest[] = [];
    let first = true;
    for (;;) {
      const c = this.src[this.pos];
      if (c === undefined) throw new PatternError("unclosed `[`", at);
      if (c === "]" && !first) break;
      first = false;
      this.pos++;
      let lo: number;
      if (c === "\\") {
        const t = this.escape(this.pos - 1);
        const e = this.src[this.pos - 1]!;
        if (CLASS_ESCAPES[e]) {
          tests.push(t);
          continue;
        }
        lo = e === "n" ? 10 : e === "t" ? 9 : e === "r" ? 13 : e.charCodeAt(0);
      } else lo = c.charCodeAt(0);
      if (this.peek() === "-" && this.src[this.pos + 1] !== undefined && this.src[this.pos + 1] !== "]") {
        this.pos++;
        let hiChar = this.src[this.pos++]!;
        if (hiChar === "\\") hiChar = this.src[this.pos++] ?? "";
        const hi = hiChar.charCodeAt(0);
        if (!(hi >= lo)) throw new PatternError(`range \`${String.fromCharCode(lo)}-${hiChar}\` is out of order`, at);
        tests.push((x) => x >= lo && x <= hi);
      } else tests.push((x) => x === lo);
    }
    this.pos++;
    const any: CharTest = (x) => tests.some((t) => t(x));
    return negate ? not(any) : any;
  }
}

/** Builds NFA states for an AST; returns the entry state and the dangling exits to patch. */
class Builder {
  readonly states: State[] = [];

  constructor(private readonly at: number) {}

  private add(s: State): number {
    if (this.states.length >= MAX_STATES) throw new PatternError(`the pattern needs more than ${MAX_STATES} states (lower the repetition counts)`, this.at);
    this.states.push(s);
    return this.states.length - 1;
  }

  /** A fragment: entry state and the list of [state, slot] exits still pointing nowhere. */
  build(n: Node): { start: number; exits: Array<[number, number]> } {
    switch (n.t) {
      case "char": {
        const s = this.add({ kind: "char", test: n.test, out: -1 });
        return { start: s, exits: [[s, 0]] };
      }
      case "seq": {
        if (n.items.length === 0) return this.empty();
        let first = this.build(n.items[0]!);
        for (const item of n.items.slice(1)) {
          const next = this.build(item);
          this.patch(first.exits, next.start);
          first = { start: first.start, exits: next.exits };
        }
        return first;
      }
      case "alt": {
        const parts = n.options.map((o) => this.build(o));
        const s = this.add({ kind: "split", out: parts.map((p) => p.start) });
        return { start: s, exits: parts.flatMap((p) => p.exits) };
      }
      case "repeat":
        return this.repeat(n.node, n.min, n.max);
    }
  }

  private empty(): { start: number; exits: Array<[number, number]> } {
    const s = this.add({ kind: "split", out: [-1] });
    return { start: s, exits: [[s, 0]] };
  }

  private repeat(node: Node, min: number, max: number): { start: number; exits: Array<[number, number]> } {
    const parts: Array<{ start: number; exits: Array<[number, number]> }> = [];
    for (let i = 0; i < min; i++) parts.push(this.build(node));
    if (max === Infinity) {
      // x*: a split that either enters x (which loops back to the split) or leaves.
      const body = this.build(node);
      const loop = this.add({ kind: "split", out: [body.start, -1] });
      this.patch(body.exits, loop);
      parts.push({ start: loop, exits: [[loop, 1]] });
    } else {
      for (let i = min; i < max; i++) {
        const body = this.build(node);
        const opt = this.add({ kind: "split", out: [body.start, -1] });
        parts.push({ start: opt, exits: [...body.exits, [opt, 1]] });
      }
    }
    if (parts.length === 0) return this.empty();
    for (let i = 1; i < parts.length; i++) this.patch(parts[i - 1]!.exits, parts[i]!.start);
    return { start: parts[0]!.start, exits: parts.at(-1)!.exits };
  }

  patch(exits: Array<[number, number]>, to: number): void {
    for (const [s, slot] of exits) {
      const st = this.states[s]!;
      if (st.kind === "char") st.out = to;
      else if (st.kind === "split") st.out[slot] = to;
    }
  }
}

/** A compiled pattern. */
export class BoundedRegex {
  private constructor(
    private readonly states: readonly State[],
    private readonly start: number,
    private readonly anchoredStart: boolean,
    private readonly anchoredEnd: boolean,
  ) {}

  /** Compiles `pattern`; throws PatternError with the offset of the problem. */
  static compile(pattern: string): BoundedRegex {
    if (pattern.length > MAX_PATTERN) throw new PatternError(`the pattern is longer than ${MAX_PATTERN} characters`, MAX_PATTERN);
    const p = new Parser(pattern);
    const ast = p.parse();
    const b = new Builder(0);
    const frag = b.build(ast);
    const match = b.states.length;
    b.states.push({ kind: "match" });
    b.patch(frag.exits, match);
    return new BoundedRegex(b.states, frag.start, p.anchoredStart, p.anchoredEnd);
  }

  /** Whether the pattern matches somewhere in `text` (at its start / end when anchored); false past MAX_TEXT. */
  test(text: string): boolean {
    if (text.length > MAX_TEXT) return false;
    let current = new Set<number>();
    const addClosure = (set: Set<number>, s: number) => {
      const stack = [s];
      while (stack.length) {
        const x = stack.pop()!;
        if (x < 0 || set.has(x)) continue;
        set.add(x);
        const st = this.states[x]!;
        if (st.kind === "split") for (const o of st.out) stack.push(o);
      }
    };
    const matched = (set: Set<number>) => [...set].some((x) => this.states[x]!.kind === "match");
    addClosure(current, this.start);
    for (let i = 0; i <= text.length; i++) {
      if (matched(current) && (!this.anchoredEnd || i === text.length)) return true;
      if (i === text.length) break;
      const c = text.charCodeAt(i);
      const next = new Set<number>();
      for (const x of current) {
        const st = this.states[x]!;
        if (st.kind === "char" && st.test(c)) addClosure(next, st.out);
      }
      // Unanchored: a match may also start at the next position.
      if (!this.anchoredStart) addClosure(next, this.start);
      current = next;
      if (current.size === 0) return false;
    }
    return false;
  }
}
