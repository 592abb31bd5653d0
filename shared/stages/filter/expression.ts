/**
 * The filter stage's expression language: a small, closed grammar over CloudEvents attributes, parsed once
 * at load time (a syntax error is a topology error at the key's file:line) and evaluated per event without
 * `eval`. Everything an attacker could lengthen is bounded: the text, the nesting, the number of tests,
 * list sizes, and regex patterns (compiled to a linear-time matcher, ./regex.ts).
 *
 *   expr   := or
 *   or     := and (("or" | "||") and)*
 *   and    := unary (("and" | "&&") unary)*
 *   unary  := ("not" | "!") unary | "(" expr ")" | "exists" "(" attr ")" | test
 *   test   := attr ("==" | "!=" | "startsWith" | "endsWith" | "matches") literal
 *           | attr ["not"] "in" "[" literal ("," literal)* "]"
 *   literal:= "string" | 'string' | number | true | false      (compared as text; in strings only \" \' and
 *             \\ are escapes, any other backslash stays, so `matches "^com\.example\."` means what it says)
 *
 * An attribute is a CloudEvents context attribute or extension name (lowercase a-z, 0-9). An event without
 * it equals nothing: every test on it is false except `!=` and `not in`; test presence with exists(name).
 */
import { BoundedRegex, PatternError } from "./regex.ts";

/** Longest expression text. */
export const MAX_EXPRESSION = 2048;
/** Deepest nesting of parentheses and `not`. */
export const MAX_DEPTH = 16;
/** Most attribute tests in one expression. */
export const MAX_TESTS = 64;
/** Most items in one `in [...]` list. */
export const MAX_LIST = 256;

/** A parsed expression. */
export type Expr =
  | { op: "or" | "and"; args: Expr[] }
  | { op: "not"; arg: Expr }
  | { op: "exists"; attr: string }
  | { op: "==" | "!=" | "startsWith" | "endsWith"; attr: string; value: string }
  | { op: "in"; attr: string; values: ReadonlySet<string>; negated: boolean }
  | { op: "matches"; attr: string; regex: BoundedRegex };

/** A syntax or bound error; `column` is 1-based within the expression. */
export class ExpressionError extends Error {
  constructor(
    readonly reason: string,
    readonly column: number,
  ) {
    super(`${reason} (at column ${column} of the expression)`);
  }
}

type Token = { kind: "word" | "string" | "number" | "sym"; text: string; at: number };

const SYMBOLS = ["==", "!=", "&&", "||", "(", ")", "[", "]", ",", "!"];

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const at = i;
    if (c === '"' || c === "'") {
      let text = "";
      i++;
      for (;;) {
        const d = src[i];
        if (d === undefined) throw new ExpressionError("unterminated string", at + 1);
        i++;
        if (d === c) break;
        if (d === "\\") {
          const e = src[i++];
          if (e === undefined) throw new ExpressionError("unterminated string", at + 1);
          // Only quotes and backslashes are escaped; `\.` stays as written, so regexes read as they do elsewhere.
          text += e === c || e === "\\" ? e : `\\${e}`;
        } else text += d;
      }
      out.push({ kind: "string", text, at });
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i, i + 64));
    if (word) {
      out.push({ kind: "word", text: word[0], at });
      i += word[0].length;
      continue;
    }
    const num = /^-?\d+(\.\d+)?/.exec(src.slice(i, i + 32));
    if (num) {
      out.push({ kind: "number", text: num[0], at });
      i += num[0].length;
      continue;
    }
    const sym = SYMBOLS.find((s) => src.startsWith(s, i));
    if (!sym) throw new ExpressionError(`unexpected \`${c}\``, at + 1);
    out.push({ kind: "sym", text: sym, at });
    i += sym.length;
  }
  return out;
}

const COMPARISONS = new Set(["==", "!=", "startsWith", "endsWith", "matches"]);
const ATTRIBUTE = /^[a-z0-9]+$/;

class ExpressionParser {
  private i = 0;
  private tests = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly length: number,
  ) {}

  parse(): Expr {
    const e = this.or(0);
    const t = this.tokens[this.i];
    if (t) throw this.error(`unexpected \`${t.text}\`: expected \`and\`, \`or\` or the end`, t);
    return e;
  }

  private error(reason: string, t: Token | undefined): ExpressionError {
    return new ExpressionError(reason, (t?.at ?? this.length) + 1);
  }

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }

  private isWord(...words: string[]): boolean {
    const t = this.peek();
    return t !== undefined && (t.kind === "word" || t.kind === "sym") && words.includes(t.text);
  }

  private expect(text: string, what: string): Token {
    const t = this.peek();
    if (!t || t.text !== text || t.kind === "string") throw this.error(`expected ${what}${t ? `, got \`${t.text}\`` : " before the end"}`, t);
    this.i++;
    return t;
  }

  private or(depth: number): Expr {
    const args = [this.and(depth)];
    while (this.isWord("or", "||")) {
      this.i++;
      args.push(this.and(depth));
    }
    return args.length === 1 ? args[0]! : { op: "or", args };
  }

  private and(depth: number): Expr {
    const args = [this.unary(depth)];
    while (this.isWord("and", "&&")) {
      this.i++;
      args.push(this.unary(depth));
    }
    return args.length === 1 ? args[0]! : { op: "and", args };
  }

  private unary(depth: number): Expr {
    const t = this.peek();
    if (depth >= MAX_DEPTH) throw this.error(`nested deeper than ${MAX_DEPTH} levels`, t);
    if (this.isWord("not", "!")) {
      this.i++;
      return { op: "not", arg: this.unary(depth + 1) };
    }
    if (this.isWord("(")) {
      this.i++;
      const e = this.or(depth + 1);
      this.expect(")", "`)`");
      return e;
    }
    if (this.isWord("exists")) {
      this.i++;
      this.expect("(", "`(` after exists");
      const attr = this.attribute();
      this.expect(")", "`)`");
      return { op: "exists", attr };
    }
    return this.test();
  }

  private attribute(): string {
    const t = this.peek();
    if (!t || t.kind !== "word") throw this.error(`expected an attribute name${t ? `, got \`${t.text}\`` : " before the end"}`, t);
    if (!ATTRIBUTE.test(t.text)) throw this.error(`\`${t.text}\` is not a CloudEvents attribute name (lowercase a-z, 0-9)`, t);
    this.i++;
    return t.text;
  }

  private literal(): string {
    const t = this.peek();
    const ok = t && (t.kind === "string" || t.kind === "number" || (t.kind === "word" && (t.text === "true" || t.text === "false")));
    if (!ok) throw this.error(`expected a value ("text", a number, true or false)${t ? `, got \`${t.text}\`` : " before the end"}`, t);
    this.i++;
    return t.text;
  }

  private test(): Expr {
    const start = this.peek();
    const attr = this.attribute();
    if (++this.tests > MAX_TESTS) throw this.error(`more than ${MAX_TESTS} tests in one expression`, start);
    const negated = this.isWord("not");
    if (negated) this.i++;
    if (this.isWord("in")) {
      this.i++;
      this.expect("[", "`[` after in");
      const values = new Set<string>();
      for (;;) {
        values.add(this.literal());
        if (values.size > MAX_LIST) throw this.error(`more than ${MAX_LIST} values in one list`, this.peek());
        if (this.isWord("]")) break;
        this.expect(",", "`,` or `]`");
      }
      this.i++;
      return { op: "in", attr, values, negated };
    }
    const opTok = this.peek();
    if (negated || !opTok || !COMPARISONS.has(opTok.text) || opTok.kind === "string") {
      throw this.error(`expected ==, !=, in, not in, startsWith, endsWith or matches after \`${attr}\`${opTok ? `, got \`${opTok.text}\`` : " before the end"}`, opTok);
    }
    this.i++;
    const valueTok = this.peek();
    const value = this.literal();
    if (opTok.text === "matches") {
      try {
        return { op: "matches", attr, regex: BoundedRegex.compile(value) };
      } catch (err) {
        if (!(err instanceof PatternError)) throw err;
        throw this.error(`invalid pattern: ${err.message}`, valueTok);
      }
    }
    return { op: opTok.text as "==" | "!=" | "startsWith" | "endsWith", attr, value };
  }
}

/** Parses and checks an expression; throws ExpressionError naming the column of the first problem. */
export function parseExpression(src: string): Expr {
  if (src.length > MAX_EXPRESSION) throw new ExpressionError(`the expression is longer than ${MAX_EXPRESSION} characters`, MAX_EXPRESSION);
  const tokens = tokenize(src);
  if (tokens.length === 0) throw new ExpressionError("the expression is empty", 1);
  return new ExpressionParser(tokens, src.length).parse();
}

/** Evaluates `e` with `get(attr)` giving an attribute's value as text, or undefined when the event lacks it. */
export function evaluate(e: Expr, get: (attr: string) => string | undefined): boolean {
  switch (e.op) {
    case "or":
      return e.args.some((a) => evaluate(a, get));
    case "and":
      return e.args.every((a) => evaluate(a, get));
    case "not":
      return !evaluate(e.arg, get);
    case "exists":
      return get(e.attr) !== undefined;
  }
  const v = get(e.attr);
  switch (e.op) {
    case "==":
      return v === e.value;
    case "!=":
      return v !== e.value;
    case "startsWith":
      return v !== undefined && v.startsWith(e.value);
    case "endsWith":
      return v !== undefined && v.endsWith(e.value);
    case "in":
      return (v !== undefined && e.values.has(v)) !== e.negated;
    case "matches":
      return v !== undefined && e.regex.test(v);
  }
}
