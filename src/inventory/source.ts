// Positions: a data path -> its YAML node -> line:column, and where problems are collected.
import type { Document } from 'yaml';
import { isAlias, isMap, isNode, isScalar, isSeq, LineCounter } from 'yaml';
import type { Problem } from './problems.js';
import type { Path } from './values.js';

export class Source {
  readonly problems: Problem[] = [];
  constructor(
    readonly file: string,
    private readonly doc: Document.Parsed,
    private readonly lc: LineCounter,
  ) {}

  private pos(node: unknown): { line: number; column: number } | undefined {
    if (!isNode(node) || !node.range) return undefined;
    const { line, col } = this.lc.linePos(node.range[0]);
    return { line, column: col };
  }

  /** Position of the node at `path`; with `key`, of the mapping key naming the last segment.
   *  When the path does not exist (a missing key), the closest existing ancestor. */
  at(path: Path, key = false): { line: number; column: number } {
    let node: unknown = this.doc.contents;
    let best = this.pos(node) ?? { line: 1, column: 1 };
    for (let i = 0; i < path.length; i++) {
      if (isAlias(node)) node = node.resolve(this.doc);
      const seg = path[i]!;
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(seg));
        if (!pair) break;
        const keyPos = this.pos(pair.key);
        if (last && key && keyPos) return keyPos;
        const v = pair.value;
        const empty = isScalar(v) && v.value === null && (!v.range || v.range[0] === v.range[1]);
        best = (!empty && this.pos(v)) || keyPos || best;
        node = v;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg];
        if (item === undefined) break;
        best = this.pos(item) ?? best;
        node = item;
      } else break;
    }
    return best;
  }

  /** The text of the scalar at `path` as written, where YAML read it as something else
   * (`7.0` is the number 7, `3.10` the number 3.1). */
  written(path: Path): string | undefined {
    const node = this.doc.getIn(path, true);
    return isScalar(node) && typeof node.source === 'string' ? node.source : undefined;
  }

  add(path: Path, message: string, fix: string, key = false): void {
    this.problems.push({ file: this.file, ...this.at(path, key), message, fix });
  }
}

/** The fix for a YAML syntax error, by the parser's error code. */
export function yamlFix(code: string, message = ''): string {
  if (/without - indicator/.test(message)) return "start every list item with '- ' and indent the keys of one item to the same column";
  if (/need to be followed by map values/.test(message)) return 'write `key: value`, with a space after the colon';
  if (code === 'MISSING_CHAR' && /quote/i.test(message)) return 'close the quote opened before this point';
  switch (code) {
    case 'BAD_INDENT':
      return 'indent the keys of one mapping (and the items of one list) to the same column, with spaces; check that every [ and { opened above is closed';
    case 'MISSING_CHAR':
      return 'close the bracket, brace or quote opened before this point';
    case 'TAB_AS_INDENT':
      return 'indent with spaces, not tabs';
    case 'DUPLICATE_KEY':
      return 'remove or rename one of the two keys with the same name in this mapping';
    case 'BAD_SCALAR_START':
      return 'quote the value: a plain value cannot start with ` or @';
    case 'MULTIPLE_DOCS':
      return 'keep one YAML document per inventory file (remove the `---` line)';
    case 'BLOCK_AS_IMPLICIT_KEY':
    case 'MULTILINE_IMPLICIT_KEY':
      return 'check for a missing `:` (or a missing space after `:`) on this or the previous line';
    case 'RESOURCE_EXHAUSTION':
      return 'use fewer nested aliases (*name)';
    default:
      return 'fix the YAML syntax at this position';
  }
}
