// What every section check works with: the raw data, where to report, and the reads they share.
import { statSync } from 'node:fs';
import type { Source } from '../source.js';
import { dotted, getIn, label, lineBreakOrNul, validPort, type Dict, type Path } from '../values.js';
import { fixFor } from '../shape.js';

export interface LoadContext {
  /** Absolute path of the inventory; `dir` its directory, `base` its name without extension. */
  abs: string;
  dir: string;
  base: string;
  /** Check that local files (keys, artifacts, tarballs) exist. */
  checkFiles: boolean;
  knownComponents: string[];
}

/** Where an effective value came from: its data path, or null for a built-in default. */
export type Origin = Path | null;

export class Checker {
  private readonly checkedFiles = new Set<string>();

  constructor(
    readonly src: Source,
    readonly data: Dict,
    readonly ctx: LoadContext,
  ) {}

  add(path: Path, message: string, fix: string, key = false): void {
    this.src.add(path, message, fix, key);
  }

  label(path: Path): string {
    return label(this.data, path);
  }

  str(p: Path): string | undefined {
    const v = getIn(this.data, p);
    return typeof v === 'string' ? v : undefined;
  }

  num(p: Path): number | undefined {
    const v = getIn(this.data, p);
    return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
  }

  /** A string that will be used as a name or a path: no NUL, no line break. Returns it if clean. */
  clean(p: Path, what: string): string | undefined {
    const s = this.str(p);
    if (s === undefined) return undefined;
    const bad = lineBreakOrNul(s);
    if (bad) {
      this.add(p, `${what} (${this.label(p)}) contains ${bad}`, 'write it on one line, without control characters');
      return undefined;
    }
    return s;
  }

  checkPort(p: Path): void {
    const n = this.num(p);
    if (n !== undefined && !validPort(n)) this.add(p, `${this.label(p)} is ${n}, which is not a port number`, fixFor(p, n));
  }

  /** A local file (or directory) the inventory names must exist; each path and file once. */
  checkLocal(p: Path, what: string, file: string, fix: string, dir = false): void {
    if (!this.ctx.checkFiles) return;
    const k = `${dotted(p)}\0${file}`;
    if (this.checkedFiles.has(k)) return;
    this.checkedFiles.add(k);
    let st;
    try {
      st = statSync(file);
    } catch {
      this.add(p, `${what} not found: ${file}`, fix);
      return;
    }
    if (dir ? !st.isDirectory() : !st.isFile()) this.add(p, `${what} is not a ${dir ? 'directory' : 'file'}: ${file}`, fix);
  }
}
