// Small helpers the inventory checks share: reading the raw YAML data by path, naming a path and
// a value in messages, typo hints, paths and port ranges.
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { isSecretPath, REDACTED } from '../redact.js';
import { NAME_RE } from '../shell.js';
import type { PortRange } from './types.js';

export type Path = (string | number)[];
export type Dict = Record<string, unknown>;

export const isDict = (v: unknown): v is Dict => v !== null && typeof v === 'object' && !Array.isArray(v);
export const q = (s: string): string => JSON.stringify(s);

export function getIn(data: unknown, path: Path): unknown {
  let v = data;
  for (const seg of path) {
    if (Array.isArray(v) && typeof seg === 'number') v = v[seg];
    else if (isDict(v)) v = v[String(seg)];
    else return undefined;
  }
  return v;
}

/** Edit distance counting a swap of two neighbours (prot -> port) as one edit. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate closest to `word`, if it is close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[], prefix = true): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  if (best === undefined) return undefined;
  const b = best.toLowerCase();
  const close = bestD <= Math.max(1, Math.floor(Math.max(w.length, b.length) / 3));
  const isPrefix = prefix && w.length >= 3 && (b.startsWith(w) || w.startsWith(b));
  return close || isPrefix ? best : undefined;
}

/** A value as shown in a message: quoted strings, kinds for collections, secrets redacted. */
export function describe(value: unknown, path: Path): string {
  // passphrase_env is not secret (it names a variable), but a wrong value there may be the passphrase.
  if (isSecretPath(path) || path[path.length - 1] === 'passphrase_env') return REDACTED;
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'string') return q(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

/** `vars.ssh.port`, `hosts[2].address`, `artifacts.etcd[0].files.etcd`. */
export function dotted(path: Path): string {
  let s = '';
  for (const seg of path) s += typeof seg === 'number' ? `[${seg}]` : s ? `.${seg}` : seg;
  return s;
}

export function lineBreakOrNul(s: string): string | undefined {
  if (s.includes('\0')) return 'a NUL byte';
  if (/[\r\n]/.test(s)) return 'a line break';
  return undefined;
}

export function expandPath(p: string, baseDir: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/')) return join(homedir(), p.slice(2));
  return isAbsolute(p) ? resolve(p) : resolve(baseDir, p);
}

export function parsePortRange(v: unknown): PortRange | undefined {
  if (typeof v === 'string') {
    const m = /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/.exec(v);
    return m ? { from: Number(m[1]), to: Number(m[2]) } : undefined;
  }
  if (isDict(v) && Number.isInteger(v.from) && Number.isInteger(v.to) && Object.keys(v).length === 2) {
    return { from: v.from as number, to: v.to as number };
  }
  return undefined;
}

export const validPort = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= 65535;

/** Label of a path for messages: `vars.ssh.port`, or `ssh.port of host "cache-03"`. */
export function label(data: Dict, path: Path): string {
  if (path.length === 0) return 'the inventory';
  if (path[0] === 'hosts' && typeof path[1] === 'number') {
    const name = getIn(data, ['hosts', path[1], 'name']);
    const host = typeof name === 'string' && NAME_RE.test(name) ? `host ${q(name)}` : `hosts[${path[1]}]`;
    return path.length === 2 ? host : `${dotted(path.slice(2))} of ${host}`;
  }
  return dotted(path);
}
