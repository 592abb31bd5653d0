/** The compliance harness itself can fail: each static check catches a deliberately broken spec part. */
import { describe, expect, test } from "bun:test";
import { int, obj, str } from "../../../shared/config/dsl.ts";
import type { AnyStageSpec } from "../../../shared/stages/spec.ts";
import { codeProblems, defaultProblems, undescribedKeys } from "./stage.ts";

describe("compliance harness", () => {
  test("finds an undescribed key, at any depth", () => {
    const d = obj({ description: "a stage", fields: { ok: str({ description: "fine" }), nested: obj({ description: "n", fields: { bare: str({ description: " " }) } }) } });
    expect(undescribedKeys(d, "x")).toEqual(["x.nested.bare"]);
  });

  test("finds a default its own descriptor refuses", () => {
    const d = obj({ description: "a stage", fields: { n: int({ description: "n", min: 5, default: 1 }), s: str({ description: "s", enum: ["a", "b"], default: "c" as "a" }) } });
    const problems = defaultProblems(d, "x");
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain("x.n: default 1");
  });

  test("finds malformed codes and missing retriable flags or meanings", () => {
    const spec = { errors: { "bad-code": { retriable: true, description: "d" }, NO_FLAG: { description: "d" } }, rejections: { OK_CODE: "" } } as unknown as AnyStageSpec;
    expect(codeProblems(spec)).toEqual(["error code bad-code is not UPPER_SNAKE_CASE", "error code NO_FLAG has no retriable flag", "rejection code OK_CODE has no description"]);
  });
});
