/** The filter expression language: grammar, semantics of missing attributes, load-time bounds, and the bounded regex. */
import { describe, expect, test } from "bun:test";
import { evaluate, ExpressionError, MAX_DEPTH, MAX_LIST, MAX_TESTS, parseExpression } from "../../../shared/stages/filter/expression.ts";
import { BoundedRegex, MAX_STATES, MAX_TEXT, PatternError } from "../../../shared/stages/filter/regex.ts";

const event: Record<string, string> = { id: "e1", source: "/tenants/acme/orders", type: "com.example.order.created", tenantid: "acme", priority: "5" };
const run = (expr: string, attrs: Record<string, string> = event) => evaluate(parseExpression(expr), (a) => attrs[a]);

/** The ExpressionError a text raises. */
function errorOf(expr: string): ExpressionError {
  try {
    parseExpression(expr);
  } catch (err) {
    if (err instanceof ExpressionError) return err;
    throw err;
  }
  throw new Error(`parsed: ${expr}`);
}

describe("filter expressions", () => {
  test("comparisons, lists, prefixes, suffixes, regexes and exists", () => {
    expect(run('type == "com.example.order.created"')).toBe(true);
    expect(run("type != 'com.example.order.created'")).toBe(false);
    expect(run('tenantid in ["acme", "globex"]')).toBe(true);
    expect(run('tenantid not in ["acme"]')).toBe(false);
    expect(run('source startsWith "/tenants/"')).toBe(true);
    expect(run('type endsWith ".deleted"')).toBe(false);
    expect(run('type matches "^com\\\\.example\\\\.order\\\\.(created|paid)$"')).toBe(true);
    expect(run('type matches "^com\\.example\\.order"')).toBe(true);
    expect(run('type matches "^com\\.example"', { type: "comXexample" })).toBe(false); // `\.` is a literal dot, not any character
    expect(run("priority == 5")).toBe(true); // literals compare as text
    expect(run("exists(tenantid) and not exists(subject)")).toBe(true);
  });

  test("and binds tighter than or; not and parentheses; symbol forms", () => {
    expect(run('type == "x" and id == "e1" or tenantid == "acme"')).toBe(true);
    expect(run('type == "x" and (id == "e1" or tenantid == "acme")')).toBe(false);
    expect(run('!(type == "x") && (id == "nope" || exists(id))')).toBe(true);
    expect(run("not not exists(id)")).toBe(true);
  });

  test("a missing attribute equals nothing: only != and not in are true on it", () => {
    for (const e of ['subject == "a"', 'subject startsWith ""', 'subject endsWith ""', 'subject in ["a"]', 'subject matches ""']) expect(run(e)).toBe(false);
    expect(run('subject != "a"')).toBe(true);
    expect(run('subject not in ["a"]')).toBe(true);
  });

  test("syntax errors name the column of the problem", () => {
    expect(errorOf('type == "a" and').column).toBe(16);
    expect(errorOf('type = "a"').message).toContain("unexpected `=`");
    expect(errorOf('type == "a').message).toContain("unterminated string");
    expect(errorOf('Type == "a"').message).toContain("is not a CloudEvents attribute name");
    expect(errorOf('type == "a" type == "b"').message).toContain("expected `and`, `or` or the end");
    expect(errorOf("(exists(id)").message).toContain("expected `)`");
    expect(errorOf("").message).toContain("empty");
  });

  test("attacker-sized expressions are refused at load: depth, tests, lists, length", () => {
    expect(errorOf(`${"(".repeat(MAX_DEPTH + 1)}exists(id)${")".repeat(MAX_DEPTH + 1)}`).message).toContain("nested deeper");
    expect(errorOf(`${"not ".repeat(MAX_DEPTH + 1)}exists(id)`).message).toContain("nested deeper");
    expect(errorOf(Array.from({ length: MAX_TESTS + 1 }, (_, i) => `id == "${i}"`).join(" or ")).message).toContain(`more than ${MAX_TESTS} tests`);
    expect(errorOf(`id in [${Array.from({ length: MAX_LIST + 1 }, (_, i) => i).join(",")}]`).message).toContain(`more than ${MAX_LIST} values`);
    expect(errorOf(`id == "${"x".repeat(3000)}"`).message).toContain("longer than");
  });
});

describe("bounded regex", () => {
  const cases: Array<[string, string[]]> = [
    ["abc", ["abc", "xabcx", "ab", ""]],
    ["^a.c$", ["abc", "a\nc", "xabc", "abcx"]],
    ["colou?r", ["color", "colour", "colouur"]],
    ["^[a-z0-9_]{2,4}$", ["ab", "a", "abcd", "abcde", "A1"]],
    ["^(?:ab|cd)+$", ["abcd", "abab", "abc", ""]],
    ["\\d+\\.\\d*", ["1.", "x12.5y", ".5"]],
    ["[^/]+/x$", ["a/x", "/x", "a/b/x"]],
    ["^$", ["", "a"]],
    ["a|", ["", "b"]],
  ];
  test("agrees with RegExp on the supported syntax", () => {
    for (const [pattern, inputs] of cases) {
      const ours = BoundedRegex.compile(pattern);
      const theirs = new RegExp(pattern);
      for (const s of inputs) expect([pattern, s, ours.test(s)]).toEqual([pattern, s, theirs.test(s)]);
    }
  });

  test("patterns that make a backtracking engine spin run in linear time", () => {
    const evil = `${"a".repeat(MAX_TEXT - 1)}!`;
    const t0 = performance.now();
    for (const p of ["(a+)+$", "^(a|a)*$", "(a*)*b", ".*.*.*.*x", "^(a|aa)+$"]) expect(BoundedRegex.compile(p).test(evil)).toBe(false);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  test("refuses what it cannot match in linear time or bound, naming the offset", () => {
    const refuse = (p: string, what: string) => {
      try {
        BoundedRegex.compile(p);
      } catch (err) {
        expect(err).toBeInstanceOf(PatternError);
        expect((err as Error).message).toContain(what);
        return;
      }
      throw new Error(`compiled: ${p}`);
    };
    refuse("(a)\\1", "backreferences");
    refuse("(?=a)b", "lookaround");
    refuse("a{2,1}", "below the minimum");
    refuse("(ab", "unclosed `(`");
    refuse("a)", "unbalanced");
    refuse("*a", "nothing to repeat");
    refuse("a+?", "cannot follow another");
    refuse("(((a{999}){999}){999})", `more than ${MAX_STATES} states`);
    refuse("x".repeat(300), "longer than");
  });

  test("text longer than MAX_TEXT never matches", () => {
    expect(BoundedRegex.compile("a").test("a".repeat(MAX_TEXT + 1))).toBe(false);
  });
});
