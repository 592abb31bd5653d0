/**
 * Collects validation issues and warnings with file positions, and remembers where each key path sits in
 * the file so cross-field rules (run after the walk) can still point at the right line and column.
 */
import type { ConfigIssue } from "../errors/index.ts";

/** A 1-based position in the topology file. */
export interface Pos {
  line: number;
  column: number;
}

/** Kind of issue; decides the ConfigError code when every issue is of one kind. */
export type IssueKind = "invalid" | "env" | "bound";

/** Issues, warnings and path positions for one topology file. */
export class Diagnostics {
  readonly issues: (ConfigIssue & { kind: IssueKind })[] = [];
  readonly warnings: string[] = [];
  private readonly positions = new Map<string, Pos>();

  constructor(readonly file: string) {}

  /** Remembers where `path` is written (first writer wins: the value's own node). */
  place(path: string, pos: Pos): void {
    if (!this.positions.has(path)) this.positions.set(path, pos);
  }

  /** Where `path` is written, or its nearest written ancestor (defaults have no position of their own). */
  at(path: string): Pos {
    for (let p = path; ; p = parentPath(p)) {
      const pos = this.positions.get(p);
      if (pos) return pos;
      if (p === "") return { line: 1, column: 1 };
    }
  }

  /** Records an issue at an explicit position. */
  addAt(pos: Pos, path: string, message: string, kind: IssueKind = "invalid"): void {
    this.issues.push({ file: this.file, line: pos.line, column: pos.column, path, message, kind });
  }

  /** Records an issue at the position of `path` (or its nearest written ancestor). */
  add(path: string, message: string): void {
    this.addAt(this.at(path), path, message);
  }

  /** Records a warning formatted like an issue (`file:line:col: path: message`). */
  warn(pos: Pos, path: string, message: string): void {
    this.warnings.push(`${this.file}:${pos.line}:${pos.column}: ${path}: ${message}`);
  }
}

/** `a.b[2].c` → `a.b[2]` → `a.b` → `a` → "". */
export function parentPath(path: string): string {
  const m = /(\.[^.[\]]+|\[[^\]]*\])$/.exec(path);
  return m ? path.slice(0, m.index) : "";
}

/** Appends a key to a path, quoting keys that are not identifiers (e.g. `properties["sasl.password"]`). */
export function joinKey(path: string, key: string): string {
  if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path ? `${path}.${key}` : key;
}

/** Appends a list index to a path. */
export function joinIndex(path: string, index: number): string {
  return `${path}[${index}]`;
}
