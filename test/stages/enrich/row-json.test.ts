/**
 * The extensions column's JSON text: the quoting shortcut for plain values must write what JSON.stringify
 * writes for every string, including those that need escapes.
 */
import { describe, expect, test } from "bun:test";
import { extensionsJson, jsonString } from "../../../shared/stages/enrich/row.ts";

describe("jsonString", () => {
  test("equals JSON.stringify for plain, escaped, control, non-ASCII and surrogate strings", () => {
    const samples = ["", "plain", 'quo"te', "back\\slash", "tab\t", "nul\u0000", "del\u007f", "é", "日本", "😀", "\ud800", "\udfff x", "~ !"];
    for (const s of samples) expect(jsonString(s)).toBe(JSON.stringify(s));
  });

  test("extensionsJson writes strings, booleans and integers in name order", () => {
    const ev = { specversion: "1.0", id: "i", source: "/s", type: "t", b: true, n: -3, s: 'x"y' };
    expect(extensionsJson(ev, ["b", "n", "s"])).toBe('{"b":true,"n":-3,"s":"x\\"y"}');
    expect(JSON.parse(extensionsJson(ev, ["b", "n", "s"]))).toEqual({ b: true, n: -3, s: 'x"y' });
  });
});
