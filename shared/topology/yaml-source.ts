/** Parses topology YAML into a document with a line counter; syntax errors become CONFIG_YAML_SYNTAX with positions. */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair } from "yaml";
import { ConfigError, type ConfigIssue } from "../errors/index.ts";
import { joinIndex, joinKey, type Pos } from "./diagnostics.ts";

/** A parsed topology file and the means to turn node offsets into line/column. */
export interface YamlSource {
  file: string;
  text: string;
  doc: Document.Parsed;
  lines: LineCounter;
}

/** Parses `text`; throws ConfigError CONFIG_YAML_SYNTAX listing every syntax error with its position. */
export function parseYaml(text: string, file: string): YamlSource {
  const lines = new LineCounter();
  // prettyErrors: false keeps messages one line; positions come from linePos below.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, merge: false });
  if (doc.errors.length > 0) {
    const issues: ConfigIssue[] = doc.errors.map((e) => {
      const pos = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
      const path = pathAtOffset(doc, e.pos[0]);
      return { file, line: pos.line, column: pos.col, path, message: `YAML syntax: ${e.message.split("\n")[0]}` };
    });
    throw new ConfigError("CONFIG_YAML_SYNTAX", `${file}: invalid YAML`, issues);
  }
  return { file, text, doc, lines };
}

/** Position of a source offset. */
export function posAt(src: YamlSource, offset: number): Pos {
  const p = src.lines.linePos(offset);
  return { line: p.line, column: p.col };
}

/** Position where a node starts (1:1 when the node has no range, e.g. an empty document). */
export function posOf(src: YamlSource, node: Node | null | undefined): Pos {
  return node?.range ? posAt(src, node.range[0]) : { line: 1, column: 1 };
}

/** The key path of the deepest node spanning `offset` in a (possibly partial) document; "" at the root. */
export function pathAtOffset(doc: Document, offset: number): string {
  let node = doc.contents as Node | null;
  let path = "";
  const spans = (a: Node | null, b: Node | null) => {
    const start = a?.range?.[0] ?? b?.range?.[0];
    const end = b?.range?.[2] ?? a?.range?.[2];
    return start !== undefined && end !== undefined && start <= offset && offset <= end;
  };
  for (;;) {
    if (isMap(node)) {
      const pair = (node.items as Pair<Node | null, Node | null>[]).find((p) => spans(p.key, p.value));
      if (!pair || !isScalar(pair.key)) return path;
      path = joinKey(path, String(pair.key.value));
      node = pair.value;
    } else if (isSeq(node)) {
      const i = (node.items as (Node | null)[]).findIndex((item) => spans(item, item));
      if (i < 0) return path;
      path = joinIndex(path, i);
      node = node.items[i] as Node | null;
    } else {
      return path;
    }
  }
}
