/** Parses topology YAML into a document with a line counter; syntax errors become CONFIG_YAML_SYNTAX with positions. */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair } from "yaml";
import { ConfigError, type ConfigIssue } from "../errors/index.ts";
import { joinIndex, joinKey, type Pos } from "../config/diagnostics.ts";

/** A parsed topology file and the means to turn node offsets into line/column. */
export interface YamlSource {
  file: string;
  text: string;
  doc: Document.Parsed;
  lines: LineCounter;
}

/**
 * What one topology file may cost to load. Real topologies are a few kilobytes with a few hundred values;
 * the limits only stop files built to exhaust memory or the stack (alias bombs, pathological nesting).
 */
export const YAML_LIMITS = {
  /** Bytes of the file itself. */
  maxBytes: 1024 * 1024,
  /** Values after expanding aliases (each use of `*ref` counts its whole subtree again). */
  maxNodes: 100_000,
  /** Nesting levels of mappings and lists. */
  maxDepth: 64,
} as const;

/** Parses `text`; throws ConfigError CONFIG_LIMIT when it is too large, CONFIG_YAML_SYNTAX listing every syntax error with its position. */
export function parseYaml(text: string, file: string): YamlSource {
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > YAML_LIMITS.maxBytes) {
    const issue = { file, line: 1, column: 1, path: "", message: `the file is ${bytes} bytes; a topology file may be at most ${YAML_LIMITS.maxBytes}` };
    throw new ConfigError("CONFIG_LIMIT", `${file}: too large`, [issue]);
  }
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
  let depth = 0;
  const spans = (a: Node | null, b: Node | null) => {
    const start = a?.range?.[0] ?? b?.range?.[0];
    const end = b?.range?.[2] ?? a?.range?.[2];
    return start !== undefined && end !== undefined && start <= offset && offset <= end;
  };
  for (;;) {
    // A file nested past the limit (it may have overflowed the parser's stack) gets a readable path.
    if (++depth > YAML_LIMITS.maxDepth) return `${path}…`;
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
