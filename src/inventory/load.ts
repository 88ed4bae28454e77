// Load an inventory (YAML), check everything that can be checked before any SSH connection,
// and resolve it into the Inventory of ./types.ts. Every problem found is reported at once, each
// with the file:line:column of the offending YAML node and a concrete fix.
//
// The format is documented, with comments, in inventories/prod.yml.

import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { isAlias, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { isSecretPath, REDACTED } from '../redact.js';
import { IPV4_RE, NAME_RE, VERSION_RE } from '../shell.js';
import type { Artifact, ArtifactType, HostSpec, Inventory, PortRange, SshSettings, Vars } from './types.js';
import { DECLARED_VARS } from '../../runbooks/settings/index.js';
import { varProblem } from '../../runbooks/settings/vars.js';

// ---------------------------------------------------------------------------------------------
// Problems

export interface Problem {
  /** The inventory path as the user gave it. */
  file: string;
  /** 1-based; 0 when the problem is about the file as a whole (it cannot be read). */
  line: number;
  /** 1-based; 0 together with line 0. */
  column: number;
  message: string;
  fix: string;
}

export function formatProblem(p: Problem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.column}` : p.file;
  return `${where}: ${p.message}\n  fix: ${p.fix}`;
}

export class InventoryError extends Error {
  readonly problems: Problem[];
  constructor(problems: Problem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'InventoryError';
    this.problems = problems;
  }
}

export interface LoadOptions {
  /** Component names the runbooks implement; `components:` may name only these. */
  knownComponents: string[];
  /** Check that the ssh key, artifact files and tarballs exist on this machine (default true). */
  checkLocalFiles?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Rules shared with the help texts

export const ARTIFACT_TYPES: readonly ArtifactType[] = ['etcd', 'redis', 'memcache', 'zookeeper', 'mesos'];
/** Names of binaries on the hosts: they become file names under /data/lib/<type>/<version>/bin/. */
export const BINARY_RE = /^[a-z0-9][a-z0-9._-]*$/;
/** Login names. */
const USER_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
/** Environment variable names. */
const ENV_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** DNS names, conservatively: letters, digits, '-' and '.', labels of at most 63 characters. */
const HOSTNAME_RE = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
/** etcd --initial-cluster-token values. */
const TOKEN_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Paths inside a tarball: relative, plain characters. */
const MEMBER_RE = /^[A-Za-z0-9_.+-][A-Za-z0-9_.+\/-]*$/;

/** Binary each artifact type must provide, when the type is used. */
const REQUIRED_BINARY: Partial<Record<ArtifactType, string>> = {
  etcd: 'etcd',
  redis: 'redis-server',
  memcache: 'memcached',
};

const DEFAULTS = {
  user: 'root',
  port: 22,
  cache_ports: { from: 7000, to: 7999 } as PortRange,
  etcd_client_port: 2379,
  etcd_peer_port: 2380,
  zookeeper_client_port: 2181,
};

const KNOWN_VARS = ['ssh', 'cache_ports', 'etcd_client_port', 'etcd_peer_port', 'etcd_cluster_token', 'zookeeper_client_port', 'forks', ...Object.keys(DECLARED_VARS)];
/** Other vars are allowed (runbooks read what they know), but one within a typo of these long
 *  names is refused: a misspelt `cache_prots` would otherwise be silently ignored. */
const TYPO_CHECKED_VARS = KNOWN_VARS.filter((k) => k.length >= 6);
const PORT_VARS = ['etcd_client_port', 'etcd_peer_port', 'zookeeper_client_port'] as const;

// ---------------------------------------------------------------------------------------------
// Shape (zod): types only. Everything else (names, ranges, cross-references, files) is checked
// by hand below, so that each problem gets its own message and fix.

const int = z.number().int();
const SshSchema = z
  .object({ user: z.string(), port: int, key: z.string(), passphrase_env: z.string(), known_hosts: z.string() })
  .partial()
  .strict();
const VarsSchema = z
  .object({
    ssh: SshSchema.nullish(),
    cache_ports: z.unknown(), // a mapping {from, to} or a string "7000-7999": checked by hand
    etcd_client_port: int,
    etcd_peer_port: int,
    etcd_cluster_token: z.string(),
    zookeeper_client_port: int,
    forks: int,
  })
  .partial()
  .passthrough();
const HostSchema = z
  .object({ name: z.string(), address: z.string(), ssh: SshSchema.nullish(), vars: VarsSchema.nullish() })
  .strict();
const ArtifactSchema = z.object({ version: z.string(), files: z.record(z.string()), tarball: z.string().optional() }).strict();
const ArtifactsSchema = z
  .object(Object.fromEntries(ARTIFACT_TYPES.map((t) => [t, z.array(ArtifactSchema)])) as Record<ArtifactType, z.ZodArray<typeof ArtifactSchema>>)
  .partial()
  .strict();
const SchedulerSchema = z.object({ resources: z.enum(['fleet', 'mesos']).optional(), mesos_master: z.string().optional() }).strict();
const InventorySchema = z
  .object({
    vars: VarsSchema.nullish(),
    artifacts: ArtifactsSchema.nullish(),
    hosts: z.array(HostSchema),
    components: z.array(z.string()),
    server: z.record(z.union([z.string(), z.array(z.string())])),
    scheduler: SchedulerSchema.nullish(),
  })
  .strict();

const TOP_KEYS = Object.keys(InventorySchema.shape);

/** The zod schema at a data path, to list the keys allowed there. */
function schemaAt(path: Path): z.ZodTypeAny | undefined {
  let s: z.ZodTypeAny | undefined = InventorySchema;
  for (const seg of [...path, null]) {
    for (;;) {
      if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap();
      else break;
    }
    if (seg === null || !s) break;
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodTypeAny>)[String(seg)];
    else if (s instanceof z.ZodArray) s = s.element;
    else if (s instanceof z.ZodRecord) s = s.valueSchema;
    else return undefined;
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

type Path = (string | number)[];
type Dict = Record<string, unknown>;

const isDict = (v: unknown): v is Dict => v !== null && typeof v === 'object' && !Array.isArray(v);
const q = (s: string): string => JSON.stringify(s);

function getIn(data: unknown, path: Path): unknown {
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
function describe(value: unknown, path: Path): string {
  // passphrase_env is not secret (it names a variable), but a wrong value there may be the passphrase.
  if (isSecretPath(path) || path[path.length - 1] === 'passphrase_env') return REDACTED;
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'string') return q(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

/** `vars.ssh.port`, `hosts[2].address`, `artifacts.etcd[0].files.etcd`. */
function dotted(path: Path): string {
  let s = '';
  for (const seg of path) s += typeof seg === 'number' ? `[${seg}]` : s ? `.${seg}` : seg;
  return s;
}

function lineBreakOrNul(s: string): string | undefined {
  if (s.includes('\0')) return 'a NUL byte';
  if (/[\r\n]/.test(s)) return 'a line break';
  return undefined;
}

function expandPath(p: string, baseDir: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/')) return join(homedir(), p.slice(2));
  return isAbsolute(p) ? resolve(p) : resolve(baseDir, p);
}

function parsePortRange(v: unknown): PortRange | undefined {
  if (typeof v === 'string') {
    const m = /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/.exec(v);
    return m ? { from: Number(m[1]), to: Number(m[2]) } : undefined;
  }
  if (isDict(v) && Number.isInteger(v.from) && Number.isInteger(v.to) && Object.keys(v).length === 2) {
    return { from: v.from as number, to: v.to as number };
  }
  return undefined;
}

const validPort = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= 65535;

function yamlFix(code: string, message = ''): string {
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

// ---------------------------------------------------------------------------------------------
// Positions: data path -> YAML node -> line:column

class Source {
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

// ---------------------------------------------------------------------------------------------
// The loader

export function loadInventory(path: string, opts: LoadOptions): Inventory {
  const checkFiles = opts.checkLocalFiles ?? true;
  const abs = resolve(path);
  const dir = dirname(abs);
  const base = basename(abs, extname(abs));

  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const [why, fix] =
      code === 'ENOENT'
        ? ['no such file', `check the path (it resolves to ${abs}); inventories usually live in inventories/, e.g. inventories/prod.yml`]
        : code === 'EISDIR'
          ? ['it is a directory', `give the path of an inventory file (.yml) inside ${abs}`]
          : code === 'EACCES'
            ? ['permission denied', `make ${abs} readable by the user running ovl`]
            : [(e as Error).message, `check that ${abs} is a readable file`];
    throw new InventoryError([{ file: path, line: 0, column: 0, message: `cannot read the inventory: ${why}`, fix }]);
  }

  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    // One error per line: what follows the first error on a line is mostly its echo.
    const byLine = new Map<number, Problem>();
    for (const e of doc.errors) {
      const { line, col } = lc.linePos(e.pos[0]);
      if (!byLine.has(line)) byLine.set(line, { file: path, line, column: col, message: `YAML syntax error: ${e.message}`, fix: yamlFix(e.code, e.message) });
    }
    throw new InventoryError([...byLine.values()]);
  }
  const src = new Source(path, doc, lc);

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    src.add([], `YAML error: ${(e as Error).message}`, yamlFix('RESOURCE_EXHAUSTION'));
    throw new InventoryError(src.problems);
  }
  if (!isDict(data)) {
    src.add(
      [],
      data === null || data === undefined ? 'the inventory is empty' : `the inventory must be a mapping, got ${describe(data, [])}`,
      `write a mapping with the keys ${TOP_KEYS.join(', ')} (see inventories/prod.yml)`,
    );
    throw new InventoryError(src.problems);
  }

  // 1. Shape.
  const parsed = InventorySchema.safeParse(data);
  if (!parsed.success) for (const issue of parsed.error.issues) shapeProblem(src, data, issue);

  // 2. Everything else, on the raw data, skipping what has the wrong type (already reported).
  const result = check(src, data, { abs, dir, base, checkFiles, knownComponents: opts.knownComponents });

  if (src.problems.length || !result) throw new InventoryError(sortProblems(src.problems));
  return result;
}

function sortProblems(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems
    .filter((p) => {
      const k = formatProblem(p);
      return seen.has(k) ? false : (seen.add(k), true);
    })
    .sort((a, b) => a.line - b.line || a.column - b.column);
}

// ---------------------------------------------------------------------------------------------
// zod issues -> problems

/** Label of a path for messages: `vars.ssh.port`, or `ssh.port of host "cache-03"`. */
function label(data: Dict, path: Path): string {
  if (path.length === 0) return 'the inventory';
  if (path[0] === 'hosts' && typeof path[1] === 'number') {
    const name = getIn(data, ['hosts', path[1], 'name']);
    const host = typeof name === 'string' && NAME_RE.test(name) ? `host ${q(name)}` : `hosts[${path[1]}]`;
    return path.length === 2 ? host : `${dotted(path.slice(2))} of ${host}`;
  }
  return dotted(path);
}

const EXPECTED: Record<string, string> = {
  array: 'a list',
  object: 'a mapping',
  string: 'text',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
};

function fixFor(path: Path, value: unknown, expected?: string, written?: string): string {
  const key = [...path].reverse().find((s): s is string => typeof s === 'string') ?? '';
  const parentKey = path.length >= 2 ? path[path.length - 2] : undefined;
  if (key === 'passphrase_env') {
    return 'write the NAME of the environment variable holding the passphrase, e.g. passphrase_env: OVL_SSH_PASSPHRASE; never the passphrase itself';
  }
  if (expected === 'string' && (typeof value === 'number' || typeof value === 'boolean') && !isSecretPath(path)) {
    return `quote it so YAML reads it as text, e.g. ${key}: "${written ?? value}"`;
  }
  if (key === 'port' || PORT_VARS.includes(key as (typeof PORT_VARS)[number])) {
    const d = key === 'port' ? 22 : DEFAULTS[key as (typeof PORT_VARS)[number]];
    return `write a port number from 1 to 65535, without quotes, e.g. ${key}: ${d}`;
  }
  if (parentKey === 'files' || key === 'files') return 'map each binary name to a local path, e.g. files: { etcd: /usr/bin/etcd, etcdctl: /usr/bin/etcdctl }';
  if (path[0] === 'server' && path.length >= 2) return `write \`${path[1]}: all\` or a list of host names, e.g. ${path[1]}: [cache-01, cache-02, cache-03]`;
  if (path[0] === 'artifacts' && path.length === 2) return `give a list of versions, e.g. ${key}: [ { version: "3.4.23", files: { ... } } ]`;
  if (path[0] === 'artifacts' && typeof path[path.length - 1] === 'number') return 'write each artifact as a mapping: { version: "7.0.15", files: { redis-server: /usr/local/bin/redis-server } }';
  switch (key) {
    case 'hosts':
      return path.length === 1
        ? 'write hosts as a list of entries, each like `- name: cache-01` with `address: 10.20.0.11` below it'
        : 'write each host as a mapping with name: and address:';
    case 'components':
      return 'write components as a list in deployment order, e.g. [data-layout, etcd, cache-binaries]';
    case 'server':
      return 'map each component to `all` or a list of host names, e.g. etcd: [cache-01, cache-02, cache-03]';
    case 'vars':
      return 'write vars as a mapping of name: value';
    case 'ssh':
      return 'write ssh as a mapping, e.g. ssh: { user: root, port: 22, key: ~/.ssh/ovl_fleet }';
    case 'artifacts':
      return 'write artifacts as a mapping from type (etcd, redis, memcache, zookeeper, mesos) to a list of versions';
    case 'scheduler':
      return 'write scheduler: { resources: fleet } or scheduler: { resources: mesos, mesos_master: "10.20.0.11:5050" }';
    case 'resources':
      return 'use fleet (the default) or mesos';
    case 'name':
      return 'give the host a name like cache-01 (lower-case letters, digits and \'-\')';
    case 'address':
      return 'give the host\'s IPv4 address (e.g. 10.20.0.11) or DNS name';
    case 'version':
      return 'write the version in quotes, e.g. version: "3.4.23"';
    case 'key':
      return 'give the path of the private key, e.g. key: ~/.ssh/ovl_fleet';
    case 'user':
      return 'give the login name, e.g. user: root';
    case 'forks':
      return 'give how many hosts to work on at once, e.g. forks: 20';
    case 'tarball':
      return 'give the local path of the release tarball, e.g. tarball: ./etcd-v3.4.23-linux-amd64.tar.gz';
    default:
      return expected ? `write ${EXPECTED[expected] ?? expected} here` : 'see inventories/prod.yml for the format';
  }
}

function shapeProblem(src: Source, data: Dict, issue: z.ZodIssue): void {
  const path = issue.path;
  const value = getIn(data, path);
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.received === 'undefined') {
        const parent = path.slice(0, -1);
        const key = String(path[path.length - 1]);
        const where = parent.length ? label(data, parent) : 'the inventory';
        src.add(parent, `${where} has no \`${key}\``, `add \`${key}:\`; ${fixFor(path, undefined, issue.expected)}`);
        return;
      }
      const exp = EXPECTED[issue.expected] ?? issue.expected;
      const written = issue.expected === 'string' && !isSecretPath(path) ? src.written(path) : undefined;
      const got = written !== undefined && written !== String(value) ? `${written} (YAML reads it as ${describe(value, path)})` : describe(value, path);
      src.add(path, `${label(data, path)} must be ${exp}, got ${got}`, fixFor(path, value, issue.expected, written));
      return;
    }
    case 'invalid_union': {
      const exp = path[0] === 'server' ? 'the word `all` or a list of host names' : 'a different kind of value';
      src.add(path, `${label(data, path)} must be ${exp}, got ${describe(value, path)}`, fixFor(path, value));
      return;
    }
    case 'invalid_enum_value': {
      const options = issue.options.map(String);
      const c = typeof value === 'string' ? closest(value, options) : undefined;
      src.add(
        path,
        `${label(data, path)} must be one of ${options.join(', ')}, got ${describe(value, path)}`,
        c ? `did you mean \`${c}\`?` : `use one of ${options.join(', ')}`,
      );
      return;
    }
    case 'unrecognized_keys': {
      const s = schemaAt(path);
      const known = s instanceof z.ZodObject ? Object.keys(s.shape as object) : [];
      for (const k of issue.keys) {
        const where = path.length === 0 ? 'top-level key' : path[0] === 'artifacts' && path.length === 1 ? 'artifact type' : 'key';
        const inWhat = path.length === 0 ? '' : ` in ${label(data, path)}`;
        const c = closest(k, known);
        src.add(
          [...path, k],
          `unknown ${where} \`${k}\`${inWhat}`,
          c ? `did you mean \`${c}\`? (allowed: ${known.join(', ')})` : `remove it; allowed here: ${known.join(', ')}`,
          true,
        );
      }
      return;
    }
    default:
      src.add(path, `${label(data, path)}: ${issue.message}`, fixFor(path, value));
  }
}

// ---------------------------------------------------------------------------------------------
// Semantic checks and resolution

interface Ctx {
  abs: string;
  dir: string;
  base: string;
  checkFiles: boolean;
  knownComponents: string[];
}

/** Where an effective value came from: its data path, or null for a built-in default. */
type Origin = Path | null;

interface RawSsh {
  user?: string;
  port?: number;
  key?: string;
  passphrase_env?: string;
  known_hosts?: string;
}

function check(src: Source, data: Dict, ctx: Ctx): Inventory | undefined {
  const str = (p: Path): string | undefined => {
    const v = getIn(data, p);
    return typeof v === 'string' ? v : undefined;
  };
  const num = (p: Path): number | undefined => {
    const v = getIn(data, p);
    return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
  };

  /** A string that will be used as a name or a path: no NUL, no line break. Returns it if clean. */
  const clean = (p: Path, what: string): string | undefined => {
    const s = str(p);
    if (s === undefined) return undefined;
    const bad = lineBreakOrNul(s);
    if (bad) {
      src.add(p, `${what} (${label(data, p)}) contains ${bad}`, 'write it on one line, without control characters');
      return undefined;
    }
    return s;
  };

  const checkPort = (p: Path): void => {
    const n = num(p);
    if (n !== undefined && !validPort(n)) {
      src.add(p, `${label(data, p)} is ${n}, which is not a port number`, fixFor(p, n));
    }
  };

  // ---- vars (global at ['vars'], per host at ['hosts', i, 'vars']) ----
  const checkSsh = (p: Path): void => {
    if (!isDict(getIn(data, p))) return;
    const user = clean([...p, 'user'], 'the ssh user');
    if (user !== undefined && !USER_RE.test(user)) {
      src.add([...p, 'user'], `ssh user ${q(user)} is not a valid login name`, 'use a login name like root or deploy');
    }
    checkPort([...p, 'port']);
    clean([...p, 'key'], 'the ssh key path');
    clean([...p, 'known_hosts'], 'the known_hosts path');
    const env = str([...p, 'passphrase_env']);
    if (env !== undefined && !ENV_RE.test(env)) {
      // Never echo it: a wrong value here is most likely the passphrase itself.
      src.add(
        [...p, 'passphrase_env'],
        `${label(data, [...p, 'passphrase_env'])} must be the NAME of an environment variable (value not shown)`,
        'write the variable name, e.g. passphrase_env: OVL_SSH_PASSPHRASE, and export OVL_SSH_PASSPHRASE=... in the shell that runs ovl; never put the passphrase in the inventory',
      );
    }
  };

  const checkVars = (p: Path): void => {
    const v = getIn(data, p);
    if (!isDict(v)) return;
    checkSsh([...p, 'ssh']);
    for (const k of PORT_VARS) checkPort([...p, k]);
    if ('cache_ports' in v && v.cache_ports !== null) {
      const cp = [...p, 'cache_ports'];
      const r = parsePortRange(v.cache_ports);
      if (!r) {
        src.add(cp, `${label(data, cp)} must be a range like { from: 7000, to: 7999 } or "7000-7999", got ${describe(v.cache_ports, cp)}`, 'write cache_ports: { from: 7000, to: 7999 }');
      } else if (!validPort(r.from) || !validPort(r.to)) {
        src.add(cp, `${label(data, cp)} ${r.from}-${r.to} is outside the port numbers 1..65535`, 'use ports from 1 to 65535, e.g. cache_ports: { from: 7000, to: 7999 }');
      } else if (r.from > r.to) {
        src.add(cp, `${label(data, cp)} is reversed: from ${r.from} is greater than to ${r.to}`, `swap them: cache_ports: { from: ${r.to}, to: ${r.from} }`);
      }
    }
    const token = clean([...p, 'etcd_cluster_token'], 'the etcd cluster token');
    if (token !== undefined && !TOKEN_RE.test(token)) {
      src.add([...p, 'etcd_cluster_token'], `etcd_cluster_token ${q(token)} is not valid`, "use letters, digits, '.', '_' and '-', e.g. etcd_cluster_token: ovl-prod");
    }
    const forks = num([...p, 'forks']);
    if (forks !== undefined && (forks < 1 || forks > 1000)) {
      src.add([...p, 'forks'], `${label(data, [...p, 'forks'])} is ${forks}; it must be from 1 to 1000`, 'give how many hosts to work on at once, e.g. forks: 20');
    }
    // The vars runbooks declare (runbooks/settings/), wherever they are set.
    for (const [k, value] of Object.entries(v)) {
      const spec = DECLARED_VARS[k];
      const problem = spec && value !== null ? varProblem(spec, value) : undefined;
      if (problem) src.add([...p, k], `${label(data, [...p, k])} ${problem}, got ${describe(value, [...p, k])}`, `write it like ${k}: ${spec!.example}`);
    }
    for (const k of Object.keys(v)) {
      if (KNOWN_VARS.includes(k)) continue;
      const c = closest(k, TYPO_CHECKED_VARS, false);
      if (c) {
        src.add([...p, k], `unknown var \`${k}\` in ${label(data, p)}`, `did you mean \`${c}\`? (rename it; a misspelt var would be silently ignored)`, true);
      }
    }
  };

  checkVars(['vars']);

  // ---- hosts ----
  const hostsRaw = Array.isArray(data.hosts) ? data.hosts : undefined;
  const hostNames: string[] = []; // valid names, inventory order
  const hostIndex = new Map<string, number>(); // name -> index in hosts
  if (hostsRaw && hostsRaw.length === 0) {
    src.add(['hosts'], '`hosts` is empty', 'add at least one host: - { name: cache-01, address: 10.20.0.11 }');
  }
  const addrSeen = new Map<string, number>();
  hostsRaw?.forEach((h, i) => {
    if (!isDict(h)) return;
    const np: Path = ['hosts', i, 'name'];
    const name = str(np);
    if (name !== undefined) {
      const bad = lineBreakOrNul(name);
      if (bad) {
        src.add(np, `host name ${q(name)} contains ${bad}; it is not a valid name`, "use lower-case letters, digits and '-' (e.g. cache-01)");
      } else if (!NAME_RE.test(name)) {
        src.add(np, `host ${q(name)} is not a valid name`, "use lower-case letters, digits and '-' (e.g. cache-01)");
      } else if (hostIndex.has(name)) {
        const first = src.at(['hosts', hostIndex.get(name)!]).line;
        src.add(np, `host ${q(name)} is defined twice (first at line ${first})`, 'give every host a unique name, or remove the repeated entry');
      } else {
        hostIndex.set(name, i);
        hostNames.push(name);
      }
    }
    const ap: Path = ['hosts', i, 'address'];
    const addr = clean(ap, 'the address');
    if (addr !== undefined) {
      const who = label(data, ['hosts', i]);
      if (/^[0-9.]+$/.test(addr) ? !IPV4_RE.test(addr) : !HOSTNAME_RE.test(addr)) {
        src.add(
          ap,
          `address ${q(addr)} of ${who} is not a valid ${/^[0-9.]+$/.test(addr) ? 'IPv4 address' : 'address'}`,
          "use an IPv4 address like 10.20.0.11, or a DNS name made of letters, digits, '-' and '.' (IPv6 is not supported)",
        );
      } else {
        const k = addr.toLowerCase();
        const prev = addrSeen.get(k);
        if (prev !== undefined) {
          src.add(
            ap,
            `address ${addr} of ${who} is already used by ${label(data, ['hosts', prev])} (line ${src.at(['hosts', prev]).line})`,
            'give every host its own address: one machine must appear only once in an inventory',
          );
        } else addrSeen.set(k, i);
      }
    }
    checkSsh(['hosts', i, 'ssh']);
    checkVars(['hosts', i, 'vars']);
  });

  // ---- ssh: every host needs a key; keys must exist ----
  /** The effective value of an ssh setting for host i, and where it comes from. */
  const sshOf = (i: number, k: keyof RawSsh): [unknown, Origin] => {
    for (const p of [['hosts', i, 'ssh', k], ['hosts', i, 'vars', 'ssh', k], ['vars', 'ssh', k]] as Path[]) {
      const v = getIn(data, p);
      if (v !== undefined && v !== null) return [v, p];
    }
    return [undefined, null];
  };
  const keyless: number[] = [];
  const checkedPaths = new Set<string>();
  const checkLocal = (p: Path, what: string, file: string, fix: string, dir = false): void => {
    if (!ctx.checkFiles) return;
    const k = `${dotted(p)}\0${file}`;
    if (checkedPaths.has(k)) return;
    checkedPaths.add(k);
    let st;
    try {
      st = statSync(file);
    } catch {
      src.add(p, `${what} not found: ${file}`, fix);
      return;
    }
    if (dir ? !st.isDirectory() : !st.isFile()) src.add(p, `${what} is not a ${dir ? 'directory' : 'file'}: ${file}`, fix);
  };
  hostsRaw?.forEach((h, i) => {
    if (!isDict(h)) return;
    const [kh, khOrigin] = sshOf(i, 'known_hosts');
    if (khOrigin && typeof kh === 'string' && !lineBreakOrNul(kh)) {
      const khDir = dirname(expandPath(kh, ctx.dir));
      checkLocal(khOrigin, 'directory of the known_hosts file', khDir, `create ${khDir} or correct \`known_hosts:\`; a relative path is relative to the inventory's directory ${ctx.dir}`, true);
    }
    const [key, origin] = sshOf(i, 'key');
    if (origin === null) {
      keyless.push(i);
      return;
    }
    if (typeof key !== 'string' || lineBreakOrNul(key)) return;
    const file = expandPath(key, ctx.dir);
    const raw = key === file ? '' : ` (written ${q(key)})`;
    checkLocal(
      origin,
      `ssh key${raw}`,
      file,
      `create it (ssh-keygen -t ed25519 -f ${file}) or correct \`key:\`; a relative path is relative to the inventory's directory ${ctx.dir}`,
    );
  });
  if (keyless.length) {
    const names = keyless.map((i) => label(data, ['hosts', i]));
    src.add(
      isDict(data.vars) ? ['vars'] : [],
      `no ssh key for ${names.length === hostsRaw?.length ? 'any host' : names.join(', ')}: \`vars.ssh.key\` is not set`,
      'set the private key for all hosts: vars: { ssh: { key: ~/.ssh/ovl_fleet } } (or per host under hosts[].ssh.key)',
    );
  }

  // ---- components ----
  const compsRaw = Array.isArray(data.components) ? data.components : undefined;
  const components: string[] = [];
  const compIndex = new Map<string, number>();
  compsRaw?.forEach((c, i) => {
    if (typeof c !== 'string') return;
    const p: Path = ['components', i];
    const bad = lineBreakOrNul(c);
    if (bad) {
      src.add(p, `component name ${q(c)} contains ${bad}`, 'write one component name per list item');
      return;
    }
    if (!ctx.knownComponents.includes(c)) {
      const s = closest(c, ctx.knownComponents);
      src.add(p, `unknown component ${q(c)}`, `${s ? `did you mean \`${s}\`? ` : ''}known components: ${ctx.knownComponents.join(', ')}`);
      return;
    }
    if (compIndex.has(c)) {
      src.add(p, `component ${q(c)} is listed twice in \`components\``, 'list each component once, in deployment order');
      return;
    }
    compIndex.set(c, i);
    components.push(c);
  });

  // ---- server ----
  const serverRaw = isDict(data.server) ? data.server : undefined;
  const server: Record<string, string[]> = {};
  if (serverRaw) {
    for (const [comp, v] of Object.entries(serverRaw)) {
      const kp: Path = ['server', comp];
      if (compsRaw && !compsRaw.includes(comp)) {
        const s = closest(comp, components);
        src.add(
          kp,
          `server has an entry for ${q(comp)}, which is not in \`components\``,
          s ? `did you mean \`${s}\`? Otherwise add ${comp} to \`components\` (in deployment order) or remove this entry` : `add ${comp} to \`components\` (in deployment order) or remove this entry`,
          true,
        );
      }
      let names: string[] | undefined;
      if (typeof v === 'string') {
        if (v === 'all') names = hostNames.slice();
        else {
          src.add(
            kp,
            `server.${comp} must be \`all\` or a list of host names, got ${q(v)}`,
            lineBreakOrNul(v) || !NAME_RE.test(v) ? `write ${comp}: all, or ${comp}: [cache-01, cache-02]` : `write a list: ${comp}: [${v}]`,
          );
        }
      } else if (Array.isArray(v)) {
        if (v.length === 0) {
          src.add(kp, `server.${comp} lists no hosts`, `name at least one host (or \`all\`), or remove ${comp} from \`components\` and \`server\``);
        }
        const listed = new Set<string>();
        v.forEach((n, j) => {
          if (typeof n !== 'string') return;
          const p: Path = ['server', comp, j];
          if (hostIndex.has(n)) {
            if (listed.has(n)) src.add(p, `host ${q(n)} is listed twice in server.${comp}`, 'list each host once');
            listed.add(n);
          } else if (n === 'all') {
            src.add(p, `server.${comp}: \`all\` must stand alone, not inside a list`, `write ${comp}: all`);
          } else {
            const s = closest(n, hostNames);
            src.add(
              p,
              `server.${comp} names host ${q(n)}, which is not in \`hosts\``,
              `${s ? `did you mean \`${s}\`? ` : ''}hosts are: ${hostNames.join(', ') || '(none)'}; or add ${q(n)} under \`hosts:\``,
            );
          }
        });
        // inventory order, whatever order the list was written in
        names = hostNames.filter((n) => listed.has(n));
      }
      if (names) server[comp] = names;
      if (comp === 'zookeeper' && names && names.length > 0 && names.length % 2 === 0) {
        src.add(kp, `ZooKeeper needs an odd number of members (1, 3 or 5); server.zookeeper lists ${names.length}`, 'add or remove one host in server.zookeeper');
      }
    }
  }
  if (serverRaw) {
    for (const c of components) {
      if (!(c in serverRaw)) {
        src.add(['components', compIndex.get(c)!], `component ${q(c)} has no entry in \`server\``, `add under server: \`${c}: all\` or \`${c}: [cache-01, ...]\``);
      }
    }
  }

  // ---- artifacts ----
  const artifactsRaw = isDict(data.artifacts) ? data.artifacts : undefined;
  const artifacts: Partial<Record<ArtifactType, Artifact[]>> = {};
  for (const type of ARTIFACT_TYPES) {
    const list = artifactsRaw?.[type];
    if (!Array.isArray(list)) continue;
    const out: Artifact[] = [];
    const versions = new Map<string, number>();
    list.forEach((a, i) => {
      if (!isDict(a)) return;
      const ap: Path = ['artifacts', type, i];
      const version = clean([...ap, 'version'], 'the version');
      let vOk = false;
      if (version !== undefined) {
        if (!VERSION_RE.test(version)) {
          src.add([...ap, 'version'], `${type} version ${q(version)} is not a valid version`, 'write digits and dots, optionally with a suffix, in quotes, e.g. version: "3.4.23" or "1.6.18-rc1"');
        } else if (versions.has(version)) {
          src.add([...ap, 'version'], `${type} version ${version} is listed twice`, `keep one entry for ${type} ${version}`);
        } else {
          versions.set(version, i);
          vOk = true;
        }
      }
      const what = `${type}${version !== undefined ? ` ${version}` : ''}`;
      let tarball: string | undefined;
      const tb = clean([...ap, 'tarball'], 'the tarball path');
      if (tb !== undefined) {
        tarball = expandPath(tb, ctx.dir);
        checkLocal([...ap, 'tarball'], `tarball of ${what}`, tarball, `download it to ${tarball} or correct \`tarball:\`; a relative path is relative to the inventory's directory ${ctx.dir}`);
      }
      const files: Record<string, string> = {};
      const filesRaw = a.files;
      if (isDict(filesRaw)) {
        if (Object.keys(filesRaw).length === 0) {
          src.add([...ap, 'files'], `artifact ${what} has no files`, 'map each binary name to a local path, e.g. files: { etcd: /usr/bin/etcd }');
        }
        for (const bin of Object.keys(filesRaw)) {
          const fp: Path = [...ap, 'files', bin];
          if (lineBreakOrNul(bin) || !BINARY_RE.test(bin)) {
            src.add(fp, `binary name ${q(bin)} of ${what} is not valid`, "use lower-case letters, digits, '.', '_' and '-' (e.g. redis-server)", true);
            continue;
          }
          const file = clean(fp, 'the file path');
          if (file === undefined) continue;
          if (tarball !== undefined || tb !== undefined) {
            if (!MEMBER_RE.test(file) || file.split('/').includes('..')) {
              src.add(fp, `${q(file)} is not a valid path inside the tarball of ${what}`, 'give the relative path of the file inside the tarball, e.g. etcd-v3.4.23-linux-amd64/etcd (no leading /, no ..)');
              continue;
            }
            files[bin] = file;
          } else {
            files[bin] = expandPath(file, ctx.dir);
            checkLocal(fp, `file ${bin} of ${what}`, files[bin]!, `put the binary at ${files[bin]} or correct the path; a relative path is relative to the inventory's directory ${ctx.dir}`);
          }
        }
        const need = REQUIRED_BINARY[type];
        if (need && Object.keys(filesRaw).length > 0 && !(need in filesRaw)) {
          src.add([...ap, 'files'], `artifact ${what} has no \`${need}\` binary`, `add it: files: { ${need}: /path/to/${need}, ... }`);
        }
      }
      if (vOk && version !== undefined) out.push(tarball !== undefined ? { version, files, tarball } : { version, files });
    });
    artifacts[type] = out;
  }
  const hasArtifact = (t: ArtifactType): boolean => Array.isArray(artifactsRaw?.[t]) && (artifactsRaw[t] as unknown[]).length > 0;
  if (compIndex.has('etcd') && !hasArtifact('etcd')) {
    src.add(
      ['components', compIndex.get('etcd')!],
      'component etcd needs an etcd artifact, but `artifacts` has none',
      'add under artifacts: etcd: [ { version: "3.4.23", files: { etcd: /usr/bin/etcd, etcdctl: /usr/bin/etcdctl } } ]',
    );
  }
  if (compIndex.has('cache-binaries') && !hasArtifact('redis') && !hasArtifact('memcache')) {
    src.add(
      ['components', compIndex.get('cache-binaries')!],
      'component cache-binaries needs a redis or memcache artifact, but `artifacts` has neither',
      'add under artifacts: redis: [ { version: "7.0.15", files: { redis-server: /usr/local/bin/redis-server, redis-cli: /usr/local/bin/redis-cli } } ]',
    );
  }

  // ---- scheduler ----
  const sched = isDict(data.scheduler) ? data.scheduler : {};
  const resources = sched.resources === 'mesos' ? 'mesos' : 'fleet';
  const master = clean(['scheduler', 'mesos_master'], 'mesos_master');
  if (resources === 'mesos' && (sched.mesos_master === undefined || sched.mesos_master === null)) {
    src.add(['scheduler'], 'scheduler.resources is mesos but scheduler.mesos_master is not set', 'add mesos_master: "10.20.0.11:5050" (host:port of the Mesos master)');
  }
  if (master !== undefined) {
    const m = /^([^:]+):(\d{1,5})$/.exec(master);
    if (!m || !(IPV4_RE.test(m[1]!) || (HOSTNAME_RE.test(m[1]!) && !/^[0-9.]+$/.test(m[1]!))) || !validPort(Number(m[2]))) {
      src.add(['scheduler', 'mesos_master'], `scheduler.mesos_master ${q(master)} is not host:port`, 'write it as host:port, e.g. mesos_master: "10.20.0.11:5050"');
    }
  }

  // ---- resolve vars and ssh per host; port conflicts ----
  const token = `ovl-${ctx.base.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '')}`;
  const resolveVars = (layers: Path[]): [Vars, Map<string, Origin>] => {
    const origins = new Map<string, Origin>();
    const out: Dict = {
      cache_ports: { ...DEFAULTS.cache_ports },
      etcd_client_port: DEFAULTS.etcd_client_port,
      etcd_peer_port: DEFAULTS.etcd_peer_port,
      etcd_cluster_token: token,
      zookeeper_client_port: DEFAULTS.zookeeper_client_port,
    };
    for (const layer of layers) {
      const v = getIn(data, layer);
      if (!isDict(v)) continue;
      for (const [k, val] of Object.entries(v)) {
        if (k === 'ssh' || val === null || val === undefined) continue;
        out[k] = k === 'cache_ports' ? (parsePortRange(val) ?? out[k]) : structuredClone(val);
        origins.set(k, [...layer, k]);
      }
    }
    return [out as Vars, origins];
  };
  const [globalVars] = resolveVars([['vars']]);

  const knownHostsDefault = join(ctx.dir, `${ctx.base}.known_hosts`);
  const hosts: HostSpec[] = [];
  hostsRaw?.forEach((h, i) => {
    if (!isDict(h) || typeof h.name !== 'string' || hostIndex.get(h.name) !== i || typeof h.address !== 'string') return;
    const [vars, origins] = resolveVars([['vars'], ['hosts', i, 'vars']]);
    const sv = (k: keyof RawSsh): unknown => sshOf(i, k)[0];
    const key = sv('key');
    const kh = sv('known_hosts');
    const pe = sv('passphrase_env');
    const ssh: SshSettings = {
      user: String(sv('user') ?? DEFAULTS.user),
      port: Number(sv('port') ?? DEFAULTS.port),
      key: typeof key === 'string' ? expandPath(key, ctx.dir) : '',
      knownHosts: typeof kh === 'string' ? expandPath(kh, ctx.dir) : knownHostsDefault,
    };
    if (typeof pe === 'string') ssh.passphraseEnv = pe;

    // Port conflicts on hosts that run etcd / zookeeper.
    const name = h.name;
    const where = (k: string): Path => origins.get(k) ?? ['hosts', i];
    const cp = vars.cache_ports;
    const inCache = (n: number): boolean => n >= cp.from && n <= cp.to;
    if (server.etcd?.includes(name)) {
      if (vars.etcd_client_port === vars.etcd_peer_port) {
        src.add(where('etcd_peer_port'), `etcd_client_port and etcd_peer_port are both ${vars.etcd_peer_port} on host ${q(name)}`, 'give etcd two different ports (defaults: 2379 and 2380)');
      }
      for (const k of ['etcd_client_port', 'etcd_peer_port'] as const) {
        if (inCache(vars[k])) {
          src.add(where('cache_ports'), `cache_ports ${cp.from}-${cp.to} of host ${q(name)} contains its ${k} ${vars[k]}`, `move the range or the port so they do not overlap`);
        }
      }
    }
    if (server.zookeeper?.includes(name) && inCache(vars.zookeeper_client_port)) {
      src.add(where('cache_ports'), `cache_ports ${cp.from}-${cp.to} of host ${q(name)} contains its zookeeper_client_port ${vars.zookeeper_client_port}`, 'move the range or the port so they do not overlap');
    }
    hosts.push({ name, address: h.address, ssh, vars, line: src.at(['hosts', i]).line });
  });

  // Mesos is not packaged in Debian: its components need an artifact or a package repository.
  for (const c of ['mesos-master', 'mesos-agent']) {
    if (!compIndex.has(c) || hasArtifact('mesos')) continue;
    const without = (server[c] ?? []).filter((n) => hosts.some((x) => x.name === n && !x.vars.mesos_apt_repository));
    if (!without.length) continue;
    src.add(
      ['components', compIndex.get(c)!],
      `${c} needs the Mesos binaries: name an artifact under artifacts.mesos or set mesos_apt_repository; ` +
        `${without.length === (server[c] ?? []).length ? 'the inventory has neither' : `${without.join(', ')} ${without.length > 1 ? 'have' : 'has'} neither`} (Mesos is not packaged in Debian)`,
      'add under artifacts: mesos: [ { version: "1.11.0", files: { mesos-master: /path/to/mesos-master, mesos-agent: /path/to/mesos-agent } } ], ' +
        'or under vars: mesos_apt_repository: "deb http://repos.example/mesos bookworm main" (and mesos_apt_signed_by: ./mesos-archive-keyring.gpg)',
    );
  }

  if (src.problems.length) return undefined;
  return {
    file: ctx.abs,
    vars: globalVars,
    hosts,
    components,
    server,
    artifacts,
    scheduler: master !== undefined ? { resources, mesos_master: master } : { resources },
  };
}

// ---------------------------------------------------------------------------------------------
// Host selection (--limit, --only)

function globToRegExp(glob: string): RegExp {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}

function splitList(xs: string[] | undefined): string[] {
  return (xs ?? []).flatMap((x) => x.split(',')).map((s) => s.trim()).filter(Boolean);
}

/**
 * The components and hosts a command works on.
 * - `only`: component names (comma-separated items are split); the result keeps deployment order.
 * - `limit`: host names or globs (`cache-0*`, `cache-0?`); the result keeps inventory order.
 * With `only`, hosts are narrowed to those running at least one of the selected components.
 * Unknown names, globs matching nothing and an empty selection are errors.
 */
export function selectHosts(
  inv: Inventory,
  opts: { limit?: string[]; only?: string[] },
): { components: string[]; hosts: Set<string> } {
  const only = splitList(opts.only);
  const limit = splitList(opts.limit);
  // An empty selection given (`--limit "$HOSTS"` with HOSTS unset) must not mean "all of them".
  if (opts.only !== undefined && !only.length) throw new Error(`--only: no component given; name at least one of: ${inv.components.join(', ')}`);
  if (opts.limit !== undefined && !limit.length) throw new Error(`--limit: no host given; name at least one host (or a glob such as 'cache-0*')`);
  const allNames = inv.hosts.map((h) => h.name);

  let components = inv.components;
  if (only.length) {
    const unknown = only.filter((c) => !inv.components.includes(c));
    if (unknown.length) {
      const hints = unknown.map((u) => closest(u, inv.components)).filter((x): x is string => !!x);
      throw new Error(
        `--only: unknown component${unknown.length > 1 ? 's' : ''} ${unknown.map(q).join(', ')}` +
          `${hints.length ? ` (did you mean ${hints.join(', ')}?)` : ''}; the components of ${inv.file} are: ${inv.components.join(', ')}`,
      );
    }
    components = inv.components.filter((c) => only.includes(c));
  }

  let names = allNames;
  if (limit.length) {
    const picked = new Set<string>();
    const unknown: string[] = [];
    for (const pat of limit) {
      const matched = /[*?]/.test(pat) ? allNames.filter((n) => globToRegExp(pat).test(n)) : allNames.filter((n) => n === pat);
      if (matched.length === 0) unknown.push(pat);
      for (const n of matched) picked.add(n);
    }
    if (unknown.length) {
      const hints = unknown.map((u) => closest(u, allNames)).filter((x): x is string => !!x);
      throw new Error(
        `--limit: no host matches ${unknown.map(q).join(', ')}` +
          `${hints.length ? ` (did you mean ${hints.join(', ')}?)` : ''}; the hosts of ${inv.file} are: ${allNames.join(', ')}`,
      );
    }
    names = allNames.filter((n) => picked.has(n));
  }

  if (only.length) {
    const running = new Set(components.flatMap((c) => inv.server[c] ?? []));
    const narrowed = names.filter((n) => running.has(n));
    if (narrowed.length === 0) {
      throw new Error(
        `--limit ${limit.join(',')} selects no host running ${components.join(', ')}: ` +
          components.map((c) => `${c} runs on ${(inv.server[c] ?? []).join(', ') || 'no host'}`).join('; '),
      );
    }
    names = narrowed;
  }
  return { components, hosts: new Set(names) };
}
