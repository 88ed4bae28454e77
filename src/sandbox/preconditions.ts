// What `ovl sandbox up` needs on this machine: root, the tools, and the binaries the
// inventory it writes lists as artifacts (with their versions).
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { assertMatch, SAFE_PATH_RE, VERSION_RE } from '../shell.js';

const execFileP = promisify(execFile);

export const SSHD = '/usr/sbin/sshd';

export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('ovl sandbox needs root (it creates mount namespaces): run it as root');
}

function which(cmd: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return null;
}

function requireTool(cmd: string, pkg: string): string {
  const p = which(cmd);
  if (!p) throw new Error(`${pkg} is missing (no ${cmd}): apt-get install -y ${pkg}`);
  return p;
}

export interface Tools {
  unshare: string;
  nsenter: string;
  sshKeygen: string;
}

export function requireTools(): Tools {
  requireRoot();
  if (!existsSync(SSHD)) throw new Error('openssh-server is missing: apt-get install -y openssh-server');
  const tools = {
    unshare: requireTool('unshare', 'util-linux'),
    nsenter: requireTool('nsenter', 'util-linux'),
    sshKeygen: requireTool('ssh-keygen', 'openssh-client'),
  };
  requireTool('mount', 'mount');
  requireTool('umount', 'mount');
  requireTool('hostname', 'hostname');
  return tools;
}

export interface LocalArtifacts {
  versions: { etcd: string; redis: string; memcache: string };
  bins: { etcd: string; etcdctl: string; redisServer: string; redisCli: string; memcached: string };
}

async function versionOf(bin: string, args: string[], re: RegExp): Promise<string> {
  let out: string;
  try {
    const r = await execFileP(bin, args, { timeout: 10000 });
    out = `${r.stdout}\n${r.stderr}`;
  } catch (e) {
    throw new Error(`cannot read the version of ${bin}: ${(e as Error).message}`);
  }
  const m = re.exec(out);
  if (!m?.[1]) throw new Error(`cannot read the version of ${bin} from ${JSON.stringify(out.trim().split('\n')[0])}`);
  return assertMatch(VERSION_RE, m[1], `version of ${bin}`);
}

/** The binaries the inventory lists as artifacts, and their versions, read from this machine. */
export async function localArtifacts(): Promise<LocalArtifacts> {
  const need = (cmd: string, msg: string) => {
    const p = which(cmd);
    if (!p) throw new Error(msg);
    return assertMatch(SAFE_PATH_RE, p, `path of ${cmd}`);
  };
  const bins = {
    etcd: need('etcd', 'etcd-server is missing: apt-get install -y etcd-server etcd-client'),
    etcdctl: need('etcdctl', 'etcd-client is missing (no etcdctl): apt-get install -y etcd-client'),
    redisServer: need('redis-server', 'redis-server is missing: apt-get install -y redis-server redis-tools'),
    redisCli: need('redis-cli', 'redis-tools is missing (no redis-cli): apt-get install -y redis-tools'),
    memcached: need('memcached', 'memcached is missing: apt-get install -y memcached'),
  };
  const [etcd, redis, memcache] = await Promise.all([
    versionOf(bins.etcd, ['--version'], /etcd Version:\s*(\S+)/),
    versionOf(bins.redisServer, ['--version'], /\bv=(\S+)/),
    versionOf(bins.memcached, ['-V'], /memcached\s+(\S+)/),
  ]);
  return { versions: { etcd, redis, memcache }, bins };
}
