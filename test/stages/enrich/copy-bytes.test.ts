/**
 * COPY lines travel from the enrich threads as UTF-8 bytes (copy-bytes.ts): the encoding, the merge of
 * several slices, the lazy string view, and the enrich stage's output through real threads.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { concatCopyBytes, copyFieldColumn, decodeCopyLines, encodeCopyLines } from "../../../shared/stages/enrich/copy-bytes.ts";
import { EventStatus } from "../../../shared/stages/batch.ts";
import type { EnrichStage } from "../../../shared/stages/enrich/index.ts";
import { copyField, copyJsonField } from "../../../shared/stages/persist/copy-text.ts";
import { batchOf, ce, startEnrich, structured, testTopology } from "./helpers.ts";

const text = new TextDecoder();
const lineAt = (bytes: Uint8Array, starts: Uint32Array, i: number) => text.decode(bytes.subarray(starts[i], starts[i + 1]));

describe("copyFieldColumn", () => {
  const values: Array<Array<string | null>> = [
    ["a", "tab\there\nnew\rcr\\slash", null],
    ["\\N", "", "end"],
    ["é", "日本\t😀", "x"],
  ];
  const lines = [values[0], null, values[1], values[2], null].map((v) => (v === null ? "" : v.map((x) => copyField(x)).join("\t")));

  test("reads each field back as the value copyField escaped (null for \\N, '' without a line), ASCII or not", () => {
    const ascii = encodeCopyLines(lines.slice(0, 3));
    const mixed = encodeCopyLines(lines);
    for (let field = 0; field < 3; field++) {
      const out: Array<string | null> = new Array(7).fill("?");
      copyFieldColumn(mixed, field, 0, 5, out, 2);
      expect(out).toEqual(["?", "?", values[0][field], "", values[1][field], values[2][field], ""]);
      const part: Array<string | null> = new Array(2);
      // A range inside the lines (here all ASCII), e.g. one slice of a batch's lines.
      copyFieldColumn(ascii, field, 1, 2, part, 0);
      expect(part).toEqual(["", values[1][field]]);
    }
  });

  test("JSON text written with copyJsonField comes back as it was", () => {
    const json = JSON.stringify({ note: "tab\there", path: "C:\\x\\", q: '"' });
    const copy = encodeCopyLines([["1", copyJsonField(json), copyJsonField(null)].join("\t")]);
    const out: Array<string | null> = new Array(1);
    copyFieldColumn(copy, 1, 0, 1, out, 0);
    expect(out[0]).toBe(json);
    copyFieldColumn(copy, 2, 0, 1, out, 0);
    expect(out[0]).toBeNull();
  });
});

describe("encodeCopyLines", () => {
  test("ASCII lines: one buffer, each line with its newline, no bytes for empty ones", () => {
    const { bytes, starts } = encodeCopyLines(["a\tb", "", "ccc", ""]);
    expect(text.decode(bytes)).toBe("a\tb\nccc\n");
    expect([...starts]).toEqual([0, 4, 4, 8, 8]);
    expect(decodeCopyLines({ bytes, starts })).toEqual(["a\tb", "", "ccc", ""]);
  });

  test("multi-byte characters: offsets are byte offsets", () => {
    const lines = ["é\t1", "日本語", "", "x😀y"];
    const { bytes, starts } = encodeCopyLines(lines);
    for (let i = 0; i < lines.length; i++) expect(lineAt(bytes, starts, i)).toBe(lines[i] ? lines[i] + "\n" : "");
    expect(decodeCopyLines({ bytes, starts })).toEqual(lines);
  });

  test("no lines at all", () => {
    const { bytes, starts } = encodeCopyLines(["", ""]);
    expect(bytes.length).toBe(0);
    expect([...starts]).toEqual([0, 0, 0]);
  });
});

describe("concatCopyBytes", () => {
  test("a single slice covering the batch is used as it is", () => {
    const one = encodeCopyLines(["a", "b"]);
    expect(concatCopyBytes([{ start: 0, copy: one }], 2)).toBe(one);
  });

  test("slices are concatenated in order with rebased offsets", () => {
    const a = encodeCopyLines(["a1", "", "a3"]);
    const b = encodeCopyLines(["b1é", "b2"]);
    const { bytes, starts } = concatCopyBytes([{ start: 0, copy: a }, { start: 3, copy: b }], 5);
    expect(decodeCopyLines({ bytes, starts })).toEqual(["a1", "", "a3", "b1é", "b2"]);
    expect(starts[5]).toBe(bytes.length);
  });
});

describe("copyJsonField", () => {
  test("escapes JSON text exactly as copyField does", () => {
    const values = [{ a: "tab\there", b: "nl\nx", c: "back\\slash", d: 'q"uote' }, [1, "\r"], "plain", { u: "\u0001é" }];
    for (const v of values) {
      const json = JSON.stringify(v);
      expect(copyJsonField(json)).toBe(copyField(json));
    }
    expect(copyJsonField(null)).toBe("\\N");
  });
});

describe("enrich stage output", () => {
  let stage: EnrichStage | null = null;
  afterAll(async () => {
    await stage?.close();
  });

  test("the batch carries its COPY lines as bytes (through a real thread) and copyLines decodes them", async () => {
    ({ stage } = await startEnrich(testTopology({ enrich: { threads: 2 } })));
    // Enough events for two slices (MIN_SLICE_EVENTS = 256 each), a rejected one and a non-ASCII one in between.
    const records = Array.from({ length: 600 }, (_, k) =>
      k === 300 ? structured("{not json") : structured(ce({ id: `e-${k}`, subject: k === 301 ? "grüße\\τ" : `s-${k}` })),
    );
    const b = batchOf(records);
    await stage!.process(b);
    const ev = b.events!;
    expect(ev.copyBytes).toBeInstanceOf(Uint8Array);
    expect(ev.copyStarts!.length).toBe(601);
    expect(b.status[300]).toBe(EventStatus.DeadLettered);
    expect(ev.copyStarts![301]).toBe(ev.copyStarts![300]); // no bytes for the rejected event
    for (const i of [0, 299, 301, 599]) {
      const line = lineAt(ev.copyBytes!, ev.copyStarts!, i);
      expect(line.endsWith("\n")).toBe(true);
      expect(ev.copyLines[i]).toBe(line.slice(0, -1));
    }
    expect(ev.copyLines[301]).toContain("grüße\\\\τ");
    expect(ev.copyLines[300]).toBe("");
    // Lazily unpacked string columns hold the same values as the COPY line.
    expect(ev.id[599]).toBe("e-599");
    expect(ev.subject[301]).toBe("grüße\\τ");
  });
});
