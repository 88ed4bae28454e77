// A sandbox's state file and the per-host directory layout.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { projectRoot } from '../paths.js';
import { assertMatch, NAME_RE, SAFE_PATH_RE } from '../shell.js';
import type { SandboxHost, SandboxInfo } from './types.js';

export const STATE_FILE = 'sandbox.json';

export function defaultStateDir(name: string): string {
  return `/var/lib/ovl-sandbox/${name}`;
}

export function defaultInventory(name: string): string {
  return join(projectRoot, 'inventories', `${name}.yml`);
}

export const NET_RE = /^127\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function checkName(name: string): string {
  return assertMatch(NAME_RE, name, 'sandbox name');
}

export function checkStateDir(dir: string): string {
  const abs = resolve(dir);
  assertMatch(SAFE_PATH_RE, abs, 'sandbox state directory (plain characters only)');
  if (abs === '/' || abs.split('/').filter(Boolean).length < 2) throw new Error(`refusing ${abs} as a sandbox state directory: too close to /`);
  return abs;
}

export function loadState(stateDir: string): SandboxInfo | null {
  const file = join(stateDir, STATE_FILE);
  if (!existsSync(file)) return null;
  const s = JSON.parse(readFileSync(file, 'utf8')) as SandboxInfo;
  if (s.version !== 1 || !Array.isArray(s.hosts)) throw new Error(`${file}: not a sandbox state file this ovl understands`);
  return s;
}

export function saveState(info: SandboxInfo): void {
  const file = join(info.stateDir, STATE_FILE);
  writeFileSync(`${file}.tmp`, JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

export function mustLoad(name: string, stateDir?: string): SandboxInfo {
  const dir = checkStateDir(stateDir ?? defaultStateDir(checkName(name)));
  const info = loadState(dir);
  if (!info) throw new Error(`the sandbox "${name}" is not up (no ${join(dir, STATE_FILE)}): run \`ovl sandbox up --name ${name}\``);
  return info;
}

export function findHost(info: SandboxInfo, host: string): SandboxHost {
  const h = info.hosts.find((x) => x.name === host);
  if (!h) throw new Error(`the sandbox "${info.name}" has no host ${host} (hosts: ${info.hosts.map((x) => x.name).join(', ')})`);
  return h;
}

export function layout(h: SandboxHost) {
  return {
    data: join(h.dir, 'data'),
    etcUp: join(h.dir, 'etc-up'),
    etcWork: join(h.dir, 'etc-work'),
    sshdDir: join(h.dir, 'sshd'),
    config: join(h.dir, 'sshd', 'sshd_config'),
    hostKey: join(h.dir, 'sshd', 'ssh_host_ed25519_key'),
    pidFile: join(h.dir, 'sshd.pid'),
    log: join(h.dir, 'sshd.log'),
    startLog: join(h.dir, 'start.log'),
  };
}
