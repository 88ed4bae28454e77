import { createTwoFilesPatch } from 'diff';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { render } from '../templates.js';
import { argv, shq } from '../shell.js';
import { change, exec, ok, type Fact, type Operation } from './types.js';

export interface Ownership {
  mode?: number;
  owner?: string;
  group?: string;
}

const octal = (m: number) => m.toString(8);

function ownership(o: Ownership): { mode: string; owner: string; group: string } {
  return { mode: octal(o.mode ?? 0o755), owner: o.owner ?? 'root', group: o.group ?? o.owner ?? 'root' };
}

/** Probe lines: "absent" | "notdir"/"notfile" | "<mode> <owner> <group>". */
function statProbe(path: string, test: '-d' | '-f', other: string): string {
  const p = shq(path);
  return `if [ ${test} ${p} ]; then stat -c '%a %U %G' ${p}; elif [ -e ${p} ]; then echo ${other}; else echo absent; fi`;
}

function metaFixes(path: string, current: string, want: ReturnType<typeof ownership>): { what: string[]; script: string[] } {
  const [mode, owner, group] = current.split(' ');
  const what: string[] = [];
  const script: string[] = [];
  if (mode !== want.mode) {
    what.push(`mode ${mode} -> ${want.mode}`);
    script.push(argv('chmod', want.mode, path));
  }
  if (owner !== want.owner || group !== want.group) {
    what.push(`owner ${owner}:${group} -> ${want.owner}:${want.group}`);
    script.push(argv('chown', `${want.owner}:${want.group}`, path));
  }
  return { what, script };
}

/**
 * Directories with this mode and owner, read with one `stat` for all of them: a tree of
 * directories is one fact, not one fork per directory.
 */
/** Each existing path's type ("directory", "regular file", ...) and "<mode> <owner> <group>". */
export function pathStats(paths: string[]): Fact<Map<string, { type: string; meta: string }>> {
  return {
    // "<path>|<type>|<mode> <owner> <group>" for each path that exists (paths are plain: no '|').
    probe: `stat -c '%n|%F|%a %U %G' -- ${paths.map(shq).join(' ')} 2>/dev/null; true`,
    parse: (out) =>
      new Map(
        out
          .split('\n')
          .filter(Boolean)
          .map((l) => {
            const [path = '', type = '', meta = ''] = l.split('|');
            return [path, { type, meta }];
          }),
      ),
  };
}

export function directories(paths: string[], o: Ownership = {}, title = `directories ${paths.join(', ')}`): Operation<Map<string, { type: string; meta: string }>> {
  const want = ownership(o);
  return {
    title,
    fact: pathStats(paths),
    plan(seen) {
      const create: string[] = [];
      const fixes: { what: string[]; script: string[] }[] = [];
      paths.forEach((path) => {
        const { type, meta } = seen.get(path) ?? { type: 'absent', meta: '' };
        if (type === 'absent') create.push(path);
        else if (type !== 'directory') throw new Error(`${path} exists and is not a directory (${type}); move it away first`);
        else {
          const fix = metaFixes(path, meta, want);
          if (fix.what.length) fixes.push({ what: fix.what.map((w) => `${path}: ${w}`), script: fix.script });
        }
      });
      if (!create.length && !fixes.length) return ok(paths.length > 1 ? `all ${paths.length} exist` : 'exists');
      const script = fixes.flatMap((f) => f.script);
      if (create.length) script.unshift(argv('mkdir', '-p', ...create), argv('chmod', want.mode, ...create), argv('chown', `${want.owner}:${want.group}`, ...create));
      const what = [...(create.length ? [`created ${create.join(', ')}`] : []), ...fixes.flatMap((f) => f.what)];
      return change(what.join('; '), [exec(script.join(' && '))]);
    },
  };
}

export function directory(path: string, o: Ownership = {}): Operation<Map<string, { type: string; meta: string }>> {
  return directories([path], o, `directory ${path}`);
}

export interface FileOptions extends Ownership {
  /** Never show the content in diffs or logs (passwords, keys). */
  secret?: boolean;
  notify?: string[];
}

/** A file's state: absent, something else than a file, or a file with its metadata and content. */
export interface FileState {
  /** "absent", "notfile", or "<mode> <owner> <group>". */
  meta: string;
  /** The content of a regular file. */
  content?: string;
}

export function fileState(path: string): Fact<FileState> {
  return {
    probe: `${statProbe(path, '-f', 'notfile')}; [ -f ${shq(path)} ] && base64 -w0 ${shq(path)}; echo`,
    parse(out) {
      const [meta = '', b64 = ''] = out.split('\n');
      return meta === 'absent' || meta === 'notfile' ? { meta } : { meta, content: Buffer.from(b64, 'base64').toString('utf8') };
    },
  };
}

/** A file with exactly this content, written atomically (temp file + rename). */
export function file(path: string, content: string, o: FileOptions = {}): Operation<FileState> {
  const want = ownership({ ...o, mode: o.mode ?? 0o644 });
  return {
    title: `file ${path}`,
    notify: o.notify,
    fact: fileState(path),
    plan({ meta, content: old }) {
      if (meta === 'notfile') throw new Error(`${path} exists and is not a regular file; move it away first`);
      const write = exec(
        [
          'set -e',
          argv('mkdir', '-p', dirname(path)),
          `t=$(mktemp ${shq(path + '.ovl-XXXXXX')})`,
          'cat > "$t"',
          `chmod ${want.mode} "$t"`,
          `chown ${shq(`${want.owner}:${want.group}`)} "$t"`,
          `mv -f "$t" ${shq(path)}`,
        ].join('\n'),
        content,
      );
      if (old === undefined) return change('created', [write], o.secret ? '(secret content not shown)' : diffText(path, '', content));
      if (old !== content) {
        return change('content changed', [write], o.secret ? '(secret content changed, not shown)' : diffText(path, old, content));
      }
      const fix = metaFixes(path, meta, want);
      return fix.what.length ? change(fix.what.join(', '), [exec(fix.script.join(' && '))]) : ok('up to date');
    },
  };
}

/** A file rendered from templates/<template>. */
export function template(path: string, templateName: string, context: object, o: FileOptions = {}): Operation<FileState> {
  return { ...file(path, render(templateName, context), o), title: `template ${templateName} -> ${path}` };
}

function diffText(path: string, before: string, after: string): string {
  return createTwoFilesPatch(path, path, before, after, 'current', 'wanted', { context: 3 })
    .split('\n')
    .slice(2)
    .join('\n');
}

const sums = new Map<string, Promise<string>>();
const SUM_CACHE = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ovl', 'sha256.json');
let diskSums: Record<string, string> | undefined;

/**
 * sha256 of a local file, computed once per run and remembered across runs by path, size,
 * mtime and inode: hashing the binaries (tens of MB) would otherwise dominate a no-op run.
 */
export function sha256File(path: string): Promise<string> {
  let p = sums.get(path);
  if (!p) {
    p = (async () => {
      const st = statSync(path);
      const key = `${path}\0${st.size}\0${st.mtimeMs}\0${st.ino}`;
      if (!diskSums) {
        try {
          diskSums = JSON.parse(readFileSync(SUM_CACHE, 'utf8')) as Record<string, string>;
        } catch {
          diskSums = {};
        }
      }
      const known = diskSums[key];
      if (known) return known;
      const sum = await new Promise<string>((resolve, reject) => {
        const h = createHash('sha256');
        createReadStream(path)
          .on('data', (d) => h.update(d))
          .on('end', () => resolve(h.digest('hex')))
          .on('error', reject);
      });
      diskSums[key] = sum;
      try {
        mkdirSync(dirname(SUM_CACHE), { recursive: true });
        writeFileSync(`${SUM_CACHE}.${process.pid}`, JSON.stringify(diskSums));
        renameSync(`${SUM_CACHE}.${process.pid}`, SUM_CACHE);
      } catch {
        // A cache that cannot be written only costs time.
      }
      return sum;
    })();
    sums.set(path, p);
  }
  return p;
}

/**
 * The sha256 of an installed binary and its "<mode> <owner> <group>" ("absent", "notfile").
 * One stat for type, size, mtime, inode, mode and owner; the record beside the binary is read with
 * the shell's own `read`; sha256sum runs only when the record does not match the file.
 */
export function installedSum(remotePath: string, record: string): Fact<{ have: string; meta: string }> {
  const f = shq(remotePath);
  return {
    probe: [
      `st=$(stat -c '%F|%s %Y %i|%a %U %G' ${f} 2>/dev/null) || st='absent||'`,
      `rec=; read -r rec < ${shq(record)} 2>/dev/null`,
      `id=\${st#*|}; id=\${id%|*}; meta=\${st##*|}`,
      `case "$st" in 'regular file|'*) if [ -n "$rec" ] && [ "\${rec#* }" = "$id" ]; then echo "\${rec%% *}"; else sha256sum ${f} | cut -d' ' -f1; fi; echo "$meta" ;;`,
      `  absent*) echo; echo absent ;;`,
      `  *) echo; echo notfile ;; esac`,
    ].join('\n'),
    parse(out) {
      const [have = '', meta = 'absent'] = out.split('\n');
      return { have, meta };
    },
  };
}

/**
 * A binary pushed over SFTP, verified by sha256 on the host before it replaces the old one.
 * The local checksum is read when planning, so `sum` is passed in already computed.
 *
 * Hashing every binary on every host at every run would dominate a no-op run (tens of MB per
 * host), so after an install the checksum is recorded beside the binary with the file's size,
 * mtime and inode; the probe trusts that record only while all three still match, and hashes
 * the file again otherwise.
 */
export function artifact(localPath: string, remotePath: string, sum: string, o: Ownership = {}): Operation<{ have: string; meta: string }> {
  const want = ownership(o);
  const tmp = `${remotePath}.ovl-upload`;
  const record = `${dirname(remotePath)}/.${basename(remotePath)}.ovl-sha256`;
  const f = shq(remotePath);
  const stamp = `stat -c '%s %Y %i' ${f}`;
  return {
    title: `artifact ${remotePath}`,
    fact: installedSum(remotePath, record),
    plan({ have, meta }) {
      const install = [
        exec(argv('mkdir', '-p', dirname(remotePath))),
        { kind: 'upload' as const, local: localPath, remote: tmp },
        exec(
          [
            'set -e',
            `got=$(sha256sum ${shq(tmp)} | cut -d' ' -f1)`,
            `if [ "$got" != ${shq(sum)} ]; then rm -f ${shq(tmp)}; echo "checksum mismatch after upload: $got" >&2; exit 1; fi`,
            argv('chmod', want.mode, tmp),
            argv('chown', `${want.owner}:${want.group}`, tmp),
            argv('mv', '-f', tmp, remotePath),
            `echo "$got $(${stamp})" > ${shq(record)}`,
          ].join('\n'),
        ),
      ];
      if (meta === 'absent') return change(`pushed (sha256 ${sum.slice(0, 12)})`, install);
      if (have !== sum) return change(`replaced: sha256 ${have.slice(0, 12) || '?'} -> ${sum.slice(0, 12)}`, install);
      const fix = metaFixes(remotePath, meta, want);
      return fix.what.length ? change(fix.what.join(', '), [exec(fix.script.join(' && '))]) : ok(`sha256 ${sum.slice(0, 12)} matches`);
    },
  };
}
