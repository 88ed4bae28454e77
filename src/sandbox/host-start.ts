// Starting a sandbox host: its sshd in a new mount + UTS namespace (or the one its processes
// still live in), answering with an SSH banner.
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { render } from '../templates.js';
import { mntnsOf, pidsInNamespaces, procInfo } from './procs.js';
import type { SandboxHost, SandboxInfo } from './types.js';
import { layout } from './state.js';
import { hostNamespaces } from './namespaces.js';
import { SSHD, type Tools } from './preconditions.js';

const execFileP = promisify(execFile);

const START_TIMEOUT_MS = 15000;

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
export const FRESH_ETC_SCRIPT = `set -e
umount -l /etc
rm -rf "$2" "$3"
mkdir -p "$2" "$3"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$2,workdir=$3" /etc
printf '%s\\n' "$1" > /etc/hostname
`;

export async function run(cmd: string, args: string[]): Promise<string> {
  try {
    return (await execFileP(cmd, args, { timeout: 30000 })).stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(err.stderr ?? '').trim() || err.message}`);
  }
}

export async function ensureKey(tools: Tools, file: string, comment: string): Promise<void> {
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

export function tcpAccepts(address: string): Promise<boolean> {
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
export async function startHost(tools: Tools, info: SandboxInfo, h: SandboxHost): Promise<string> {
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
