// `ovl sandbox`: real hosts on one machine. Each host is an sshd in its own mount + UTS namespace
// with its own hostname, its own /data (a bind mount of a per-host directory), its own /etc (an
// overlay over the real /etc whose upper dir is per host), its own loopback address and host key.
// Root logs in with a generated fleet key. Processes started over SSH on a host live in its
// namespace, which is how `down` and `reset` find them.

import { execFile, spawn } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { basename, delimiter, dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { projectRoot } from '../paths.js';
import { assertMatch, NAME_RE, SAFE_PATH_RE, VERSION_RE } from '../shell.js';
import { render } from '../templates.js';
import {
  cmdlineOf,
  hasDataMountOf,
  isAlive,
  mntnsOf,
  pidsInNamespaces,
  procInfo,
  selfAndAncestors,
  terminate,
} from './procs.js';

const execFileP = promisify(execFile);

export type Log = (line: string) => void;

export interface SandboxHost {
  name: string;
  address: string;
  /** Per-host directory: data/, etc-up/, etc-work/, sshd/, sshd.log. */
  dir: string;
  /** Pid of the listening sshd, null when stopped. */
  pid: number | null;
  /** Mount namespace of the host ("mnt:[4026532301]"), null before the first start. */
  mntns: string | null;
}

export interface SandboxInfo {
  version: 1;
  name: string;
  net: string;
  stateDir: string;
  /** Absolute path of the inventory written by `up`. */
  inventory: string;
  /** Absolute path of the known_hosts file next to the inventory. */
  knownHosts: string;
  /** Absolute path of the fleet's private key (root logs in with it on every host). */
  fleetKey: string;
  hosts: SandboxHost[];
}

export interface SandboxUpOptions {
  name: string;
  hosts: number;
  /** First three octets of the hosts' addresses: host N gets <net>.N ("127.0.1" -> 127.0.1.1...). */
  net: string;
  /** Default /var/lib/ovl-sandbox/<name>. */
  stateDir?: string;
  /** Default <projectRoot>/inventories/<name>.yml. */
  inventory?: string;
  /** Progress lines; default console.log. */
  log?: Log;
}

export interface HostStatus {
  name: string;
  address: string;
  /** Pid of the listening sshd when it is alive. */
  pid: number | null;
  alive: boolean;
  /** Processes in the host's namespace other than the listening sshd (sessions, started services). */
  others: number;
}

export interface SandboxStatus {
  name: string;
  up: boolean;
  stateDir: string;
  net?: string;
  inventory?: string;
  knownHosts?: string;
  fleetKey?: string;
  hosts: HostStatus[];
}

const STATE_FILE = 'sandbox.json';
const SSHD = '/usr/sbin/sshd';
const INVENTORY_HEADER = '# Written by `ovl sandbox up`';
/** Grace period between SIGTERM and SIGKILL. */
const GRACE_MS = 5000;
const START_TIMEOUT_MS = 15000;

export function defaultStateDir(name: string): string {
  return `/var/lib/ovl-sandbox/${name}`;
}

export function defaultInventory(name: string): string {
  return join(projectRoot, 'inventories', `${name}.yml`);
}

// ---------------------------------------------------------------------------------------------
// Preconditions

function requireRoot(): void {
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

interface Tools {
  unshare: string;
  nsenter: string;
  sshKeygen: string;
}

function requireTools(): Tools {
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

interface LocalArtifacts {
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
async function localArtifacts(): Promise<LocalArtifacts> {
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

// ---------------------------------------------------------------------------------------------
// Validation, state

const NET_RE = /^127\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function checkName(name: string): string {
  return assertMatch(NAME_RE, name, 'sandbox name');
}

function checkStateDir(dir: string): string {
  const abs = resolve(dir);
  assertMatch(SAFE_PATH_RE, abs, 'sandbox state directory (plain characters only)');
  if (abs === '/' || abs.split('/').filter(Boolean).length < 2) throw new Error(`refusing ${abs} as a sandbox state directory: too close to /`);
  return abs;
}

function loadState(stateDir: string): SandboxInfo | null {
  const file = join(stateDir, STATE_FILE);
  if (!existsSync(file)) return null;
  const s = JSON.parse(readFileSync(file, 'utf8')) as SandboxInfo;
  if (s.version !== 1 || !Array.isArray(s.hosts)) throw new Error(`${file}: not a sandbox state file this ovl understands`);
  return s;
}

function saveState(info: SandboxInfo): void {
  const file = join(info.stateDir, STATE_FILE);
  writeFileSync(`${file}.tmp`, JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

function mustLoad(name: string, stateDir?: string): SandboxInfo {
  const dir = checkStateDir(stateDir ?? defaultStateDir(checkName(name)));
  const info = loadState(dir);
  if (!info) throw new Error(`the sandbox "${name}" is not up (no ${join(dir, STATE_FILE)}): run \`ovl sandbox up --name ${name}\``);
  return info;
}

function findHost(info: SandboxInfo, host: string): SandboxHost {
  const h = info.hosts.find((x) => x.name === host);
  if (!h) throw new Error(`the sandbox "${info.name}" has no host ${host} (hosts: ${info.hosts.map((x) => x.name).join(', ')})`);
  return h;
}

function layout(h: SandboxHost) {
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

// ---------------------------------------------------------------------------------------------
// Namespaces and processes of the hosts

/** The listening sshd of `h` is alive (same pid, same namespace, still sshd). */
function sshdAlive(h: SandboxHost): boolean {
  return h.pid !== null && h.mntns !== null && isAlive(h.pid) && mntnsOf(h.pid) === h.mntns && procInfo(h.pid)?.comm === 'sshd';
}

/**
 * Mount namespaces that belong to the given hosts: the recorded one, plus that of any sshd started
 * with the host's sshd_config (in case the state file lost track of it). Each candidate is checked
 * through mountinfo (its /data is the host's data directory) so a reused namespace inode is never
 * taken for a host's.
 */
function hostNamespaces(hosts: SandboxHost[]): Map<string, SandboxHost> {
  const candidates = new Map<string, SandboxHost>();
  for (const h of hosts) if (h.mntns) candidates.set(h.mntns, h);
  const byConfig = new Map(hosts.map((h) => [layout(h).config, h] as const));
  const someMember = new Map<string, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    const ns = mntnsOf(pid);
    if (ns === null) continue;
    // The listener rewrites its argv ("sshd: /usr/sbin/sshd -D -f <config> ... [listener] ..."),
    // so the words are found in the joined command line.
    const m = / -f (\S+)/.exec(` ${cmdlineOf(pid).join(' ')}`);
    const h = m ? byConfig.get(m[1]!) : undefined;
    if (h && procInfo(pid)?.comm === 'sshd') candidates.set(ns, h);
    if (!someMember.has(ns)) someMember.set(ns, pid);
  }
  const out = new Map<string, SandboxHost>();
  for (const [ns, h] of candidates) {
    const pid = someMember.get(ns);
    if (pid !== undefined && hasDataMountOf(pid, layout(h).data)) out.set(ns, h);
  }
  return out;
}

/** Live pids in the namespaces of each host. */
function processesByHost(hosts: SandboxHost[]): Map<string, number[]> {
  const nsmap = hostNamespaces(hosts);
  const out = new Map<string, number[]>(hosts.map((h) => [h.name, []]));
  for (const [pid, ns] of pidsInNamespaces(new Set(nsmap.keys()))) out.get(nsmap.get(ns)!.name)!.push(pid);
  return out;
}

/** The listening sshd and its sshd descendants (per-connection sshd processes) in namespace `ns`. */
function sshdTree(listener: number, ns: string): number[] {
  const members = [...pidsInNamespaces(new Set([ns])).keys()]
    .map((pid) => procInfo(pid))
    .filter((p): p is NonNullable<typeof p> => p !== null);
  const tree = new Set<number>(isAlive(listener) ? [listener] : []);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of members) {
      if (!tree.has(p.pid) && p.comm === 'sshd' && (tree.has(p.ppid) || p.pid === listener)) {
        tree.add(p.pid);
        grew = true;
      }
    }
  }
  return [...tree];
}

// ---------------------------------------------------------------------------------------------
// Starting a host

/** Runs inside the new namespaces: hostname, /data, /etc overlay, then becomes the sshd. */
const NEW_HOST_SCRIPT = `set -e
hostname "$1"
mkdir -p /data
mount --bind "$2" /data
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$3,workdir=$4" /etc
printf '%s\\n' "$1" > /etc/hostname
# Its own /root, as a real host has: the machine's root dotfiles (e.g. a pyenv init in
# .bashrc, which bash runs for every SSH command) must not slow down or change the hosts.
mkdir -p "$7"
[ -e "$7/.bashrc" ] || cp -a /etc/skel/. "$7"/
mount --bind "$7" /root
exec ${SSHD} -D -f "$5" -E "$6"
`;

/** Runs inside a host's namespace: a fresh /etc overlay (files cannot be removed under a live overlay). */
const FRESH_ETC_SCRIPT = `set -e
umount -l /etc
rm -rf "$2" "$3"
mkdir -p "$2" "$3"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$2,workdir=$3" /etc
printf '%s\\n' "$1" > /etc/hostname
`;

async function run(cmd: string, args: string[]): Promise<string> {
  try {
    return (await execFileP(cmd, args, { timeout: 30000 })).stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(err.stderr ?? '').trim() || err.message}`);
  }
}

async function ensureKey(tools: Tools, file: string, comment: string): Promise<void> {
  if (existsSync(file) && existsSync(`${file}.pub`)) return;
  rmSync(file, { force: true });
  rmSync(`${file}.pub`, { force: true });
  await run(tools.sshKeygen, ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
}

/** Resolves true when something accepts TCP connections on address:22 and sends an SSH banner. */
function sshBanner(address: string, timeoutMs: number): Promise<boolean> {
  return new Promise((done) => {
    const sock = connect({ host: address, port: 22 });
    let settled = false;
    const finish = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      done(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.once('data', (d) => finish(d.toString('latin1').startsWith('SSH-')));
    sock.once('error', () => finish(false));
    sock.once('close', () => finish(false));
  });
}

function tcpAccepts(address: string): Promise<boolean> {
  return new Promise((done) => {
    const sock = connect({ host: address, port: 22 });
    const timer = setTimeout(() => {
      sock.destroy();
      done(false);
    }, 1000);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      done(true);
    });
    sock.once('error', () => {
      clearTimeout(timer);
      done(false);
    });
  });
}

function tail(file: string, lines = 8): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Start the sshd of `h`. When processes still live in the host's namespace (the host was stopped
 * with services running), the sshd joins that namespace, so the host keeps its mounts and its
 * processes; otherwise it gets a new mount + UTS namespace over the same directories.
 */
async function startHost(tools: Tools, info: SandboxInfo, h: SandboxHost): Promise<string> {
  const L = layout(h);
  for (const d of [L.data, L.etcUp, L.etcWork, L.sshdDir]) mkdirSync(d, { recursive: true });
  await ensureKey(tools, L.hostKey, `${h.name}@ovl-sandbox-${info.name}`);
  writeFileSync(
    L.config,
    render('sandbox-sshd_config.hbs', {
      sandbox: info.name,
      host: h.name,
      address: h.address,
      hostKey: L.hostKey,
      pidFile: L.pidFile,
      authorizedKeys: `${info.fleetKey}.pub`,
    }),
  );
  if (await tcpAccepts(h.address)) {
    throw new Error(`${h.name}: ${h.address}:22 already accepts connections (another sandbox or sshd?): use another --net`);
  }

  const running = [...pidsInNamespaces(new Set(hostNamespaces([h]).keys())).keys()];
  const sshdArgs = ['-D', '-f', L.config, '-E', L.log];
  let cmd: string;
  let args: string[];
  if (running.length > 0) {
    cmd = tools.nsenter;
    args = ['-t', String(running[0]), '-m', '-u', '--', SSHD, ...sshdArgs];
  } else {
    cmd = tools.unshare;
    args = ['-m', '-u', '--', '/bin/sh', '-c', NEW_HOST_SCRIPT, `ovl-sandbox-${h.name}`, h.name, L.data, L.etcUp, L.etcWork, L.config, L.log, join(h.dir, 'root')];
  }
  const out = openSync(L.startLog, 'a');
  // detached: the child calls setsid(), so it outlives this process and its terminal.
  // unshare and nsenter (mount/UTS only) exec their command: the child's pid becomes the sshd's.
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  let exited: string | null = null;
  child.on('exit', (code, sig) => (exited = sig ? `killed by ${sig}` : `exit status ${code}`));
  child.on('error', (e) => (exited = e.message));
  child.unref();

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exited === null && (await sshBanner(h.address, 1000))) break;
    if (exited !== null || Date.now() > deadline) {
      if (exited === null && child.pid) process.kill(child.pid, 'SIGKILL');
      const why = exited ?? `no SSH banner on ${h.address}:22 within ${START_TIMEOUT_MS / 1000} s`;
      const logs = [tail(L.startLog), tail(L.log)].filter(Boolean).join('\n');
      throw new Error(`${h.name}: sshd did not start (${why})${logs ? `:\n${logs}` : ''}`);
    }
    await sleep(50);
  }
  const pid = child.pid!;
  const ns = mntnsOf(pid);
  if (ns === null || procInfo(pid)?.comm !== 'sshd') throw new Error(`${h.name}: pid ${pid} answers but is not the sshd`);
  h.pid = pid;
  h.mntns = ns;
  return running.length > 0
    ? `${h.name} ${h.address}: started sshd (pid ${pid}) in its running namespace (${running.length} process(es) kept it alive)`
    : `${h.name} ${h.address}: started sshd (pid ${pid})`;
}

// ---------------------------------------------------------------------------------------------
// Files written for the user: inventory and known_hosts

function writeInventory(info: SandboxInfo, art: LocalArtifacts): void {
  mkdirSync(dirname(info.inventory), { recursive: true });
  const hostKeys = info.hosts.map((h) => {
    const [keyType, keyBlob] = readFileSync(`${layout(h).hostKey}.pub`, 'utf8').trim().split(/\s+/);
    if (!keyType || !keyBlob) throw new Error(`${layout(h).hostKey}.pub: not a public key`);
    return { address: h.address, keyType, keyBlob };
  });
  writeFileSync(info.knownHosts, render('sandbox-known_hosts.hbs', { name: info.name, hosts: hostKeys }));
  writeFileSync(
    info.inventory,
    render('sandbox-inventory.yml.hbs', {
      name: info.name,
      fleetKey: info.fleetKey,
      knownHosts: basename(info.knownHosts),
      versions: art.versions,
      bins: art.bins,
      hosts: info.hosts.map((h) => ({ name: h.name, address: h.address })),
      etcdHosts: info.hosts.slice(0, info.hosts.length >= 3 ? 3 : 1).map((h) => h.name),
    }),
  );
}

function removeWritten(inventory: string, knownHosts: string, log: Log): void {
  if (existsSync(inventory)) {
    if (readFileSync(inventory, 'utf8').startsWith(INVENTORY_HEADER)) {
      rmSync(inventory, { force: true });
      log(`removed ${inventory}`);
    } else {
      log(`left ${inventory} alone: it was not written by \`ovl sandbox up\``);
    }
  }
  if (existsSync(knownHosts)) {
    rmSync(knownHosts, { force: true });
    log(`removed ${knownHosts}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The commands

export async function sandboxUp(opts: SandboxUpOptions): Promise<SandboxInfo> {
  const log = opts.log ?? console.log;
  const tools = requireTools();
  const name = checkName(opts.name);
  const net = assertMatch(NET_RE, opts.net, 'net (three octets in 127/8, e.g. 127.0.1)');
  if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > 254) throw new Error(`invalid host count ${opts.hosts}: 1 to 254`);
  const stateDir = checkStateDir(opts.stateDir ?? defaultStateDir(name));
  const wantInventory = opts.inventory ? assertMatch(SAFE_PATH_RE, resolve(opts.inventory), 'inventory path (plain characters only)') : undefined;
  const art = await localArtifacts();

  let info = loadState(stateDir);
  let movedFrom: { inventory: string; knownHosts: string } | undefined;
  if (info && info.name !== name) throw new Error(`${stateDir} holds the sandbox "${info.name}", not "${name}"`);
  if (info && info.net !== net) {
    throw new Error(`the sandbox "${name}" is up on ${info.net}.N, not ${net}.N: run \`ovl sandbox down --name ${name}\` first, or pass --net ${info.net}`);
  }
  if (!info) {
    const inventory = wantInventory ?? defaultInventory(name);
    info = {
      version: 1,
      name,
      net,
      stateDir,
      inventory,
      knownHosts: join(dirname(inventory), `${name}.known_hosts`),
      fleetKey: join(stateDir, 'fleet_key'),
      hosts: [],
    };
  } else if (wantInventory && wantInventory !== info.inventory) {
    movedFrom = { inventory: info.inventory, knownHosts: info.knownHosts };
    info.inventory = wantInventory;
    info.knownHosts = join(dirname(wantInventory), `${name}.known_hosts`);
  }
  for (let i = info.hosts.length + 1; i <= opts.hosts; i++) {
    info.hosts.push({ name: `h${i}`, address: `${net}.${i}`, dir: join(stateDir, 'hosts', `h${i}`), pid: null, mntns: null });
  }
  if (opts.hosts < info.hosts.length) {
    log(`the sandbox "${name}" has ${info.hosts.length} hosts; up does not remove hosts (\`ovl sandbox down\` and up again to shrink it)`);
  }
  // Fail before starting anything when an address is taken (another sandbox on the same --net).
  const taken = await Promise.all(info.hosts.map(async (h) => (!sshdAlive(h) && (await tcpAccepts(h.address)) ? h : null)));
  const busy = taken.filter((h): h is SandboxHost => h !== null);
  if (busy.length > 0) {
    throw new Error(
      `${busy.map((h) => `${h.address}:22`).join(', ')} already accept${busy.length === 1 ? 's' : ''} connections (another sandbox or sshd?): use another --net`,
    );
  }

  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  saveState(info); // from here on, `down` can clean up even if starting fails half-way

  await ensureKey(tools, info.fleetKey, `root@ovl-sandbox-${name}`);

  // Hosts start in parallel; their lines are printed in host order.
  const results = await Promise.allSettled(
    info.hosts.map(async (h) => (sshdAlive(h) ? `${h.name} ${h.address}: already running (sshd pid ${h.pid}), left alone` : startHost(tools, info, h))),
  );
  saveState(info);
  for (const r of results) if (r.status === 'fulfilled') log(r.value);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length > 0) {
    throw new Error(
      `${failed.map((r) => (r.reason as Error).message).join('\n')}\n(\`ovl sandbox down --name ${name}\` removes what was started)`,
    );
  }
  writeInventory(info, art);
  if (movedFrom) removeWritten(movedFrom.inventory, movedFrom.knownHosts, log);
  return info;
}

export async function sandboxDown(name: string, stateDir?: string, log: Log = console.log): Promise<void> {
  requireRoot();
  const dir = checkStateDir(stateDir ?? defaultStateDir(checkName(name)));
  const info = loadState(dir);
  if (!info) {
    log(`the sandbox "${name}" is not up (no ${join(dir, STATE_FILE)}): nothing to do`);
    return;
  }
  const namespaces = new Set(hostNamespaces(info.hosts).keys());
  const protect = selfAndAncestors();
  const scan = () => [...pidsInNamespaces(namespaces).keys()].filter((p) => !protect.has(p));
  // Listening sshds first, so nothing new logs in while the rest is being stopped.
  const listeners = info.hosts.filter(sshdAlive).map((h) => h.pid!);
  await terminate(() => listeners.filter(isAlive), GRACE_MS);
  const killed = await terminate(scan, GRACE_MS);
  log(`stopped ${listeners.length} sshd(s) and ${killed.size} other process(es) of the sandbox "${name}"`);
  removeWritten(info.inventory, info.knownHosts, log);
  rmSync(dir, { recursive: true, force: true });
  log(`removed ${dir}`);
}

export async function sandboxStatus(name: string, stateDir?: string): Promise<SandboxStatus> {
  requireRoot();
  const dir = checkStateDir(stateDir ?? defaultStateDir(checkName(name)));
  const info = loadState(dir);
  if (!info) return { name, up: false, stateDir: dir, hosts: [] };
  const procs = processesByHost(info.hosts);
  return {
    name,
    up: true,
    stateDir: dir,
    net: info.net,
    inventory: info.inventory,
    knownHosts: info.knownHosts,
    fleetKey: info.fleetKey,
    hosts: info.hosts.map((h) => {
      const alive = sshdAlive(h);
      const pids = procs.get(h.name) ?? [];
      return {
        name: h.name,
        address: h.address,
        pid: alive ? h.pid : null,
        alive,
        others: pids.filter((p) => !(alive && p === h.pid)).length,
      };
    }),
  };
}

/**
 * Take a host off the network: stop its sshd (the listener and the per-connection sshds, so open
 * SSH sessions drop too). Other processes on the host keep running in its namespace.
 */
export async function sandboxStopHost(name: string, host: string, stateDir?: string, log: Log = console.log): Promise<void> {
  requireRoot();
  const info = mustLoad(name, stateDir);
  const h = findHost(info, host);
  if (!sshdAlive(h)) {
    log(`${h.name} ${h.address}: sshd already stopped`);
    return;
  }
  const pid = h.pid!;
  const ns = h.mntns!;
  await terminate(() => sshdTree(pid, ns), GRACE_MS);
  h.pid = null;
  saveState(info);
  const left = pidsInNamespaces(new Set([ns])).size;
  log(`${h.name} ${h.address}: sshd stopped (pid ${pid}); ${left} process(es) keep running on the host`);
}

export async function sandboxStartHost(name: string, host: string, stateDir?: string, log: Log = console.log): Promise<void> {
  const tools = requireTools();
  const info = mustLoad(name, stateDir);
  const h = findHost(info, host);
  if (sshdAlive(h)) {
    log(`${h.name} ${h.address}: already running (sshd pid ${h.pid}), left alone`);
    return;
  }
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const line = await startHost(tools, info, h);
  saveState(info);
  log(line);
}

function emptyDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const e of readdirSync(dir)) rmSync(join(dir, e), { recursive: true, force: true });
}

/**
 * Make every host fresh: kill every process in the hosts' namespaces except the listening sshds
 * (and this process and its ancestors), empty /data, and give /etc a fresh overlay upper dir.
 * The sshds keep running (same pids); a host that was stopped is started again.
 */
export async function sandboxReset(name: string, stateDir?: string, log: Log = console.log): Promise<void> {
  const tools = requireTools();
  const info = mustLoad(name, stateDir);
  const nsmap = hostNamespaces(info.hosts);
  const protect = selfAndAncestors();
  await Promise.all(
    info.hosts.map(async (h) => {
      const L = layout(h);
      const alive = sshdAlive(h);
      const namespaces = new Set([...nsmap].filter(([, owner]) => owner === h).map(([ns]) => ns));
      const scan = () => [...pidsInNamespaces(namespaces).keys()].filter((p) => !protect.has(p) && !(alive && p === h.pid));
      const killed = await terminate(scan, GRACE_MS);
      emptyDir(L.data);
      if (alive) {
        // Removing files from the upper dir of a mounted overlay is not seen reliably (cached
        // dentries keep showing them): swap in a fresh overlay inside the namespace instead.
        await run(tools.nsenter, ['-t', String(h.pid), '-m', '--', '/bin/sh', '-c', FRESH_ETC_SCRIPT, 'ovl-sandbox-reset', h.name, L.etcUp, L.etcWork]);
        log(`${h.name} ${h.address}: reset (${killed.size} process(es) stopped; sshd pid ${h.pid} kept)`);
      } else {
        if (scan().length > 0) throw new Error(`${h.name}: processes are still running in the host's namespace`);
        rmSync(L.etcUp, { recursive: true, force: true });
        rmSync(L.etcWork, { recursive: true, force: true });
        log(`${h.name} ${h.address}: reset (${killed.size} process(es) stopped); its sshd was stopped, starting it`);
        log(await startHost(tools, info, h));
      }
    }),
  );
  saveState(info);
}
