// Processes seen through /proc: which mount namespace they live in, and how to end them.
// Everything here works by pid and namespace inode, never by process name.

import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Proc {
  pid: number;
  ppid: number;
  /** Single-letter state from /proc/<pid>/stat (R, S, D, Z, ...). */
  state: string;
  comm: string;
}

/** "mnt:[4026532301]" for a live process, null when it is gone, a zombie or unreadable. */
export function mntnsOf(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return null;
  }
}

export function procInfo(pid: number): Proc | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // comm may contain spaces and parentheses: it runs from the first "(" to the last ")".
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  if (open < 0 || close < 0) return null;
  const rest = stat.slice(close + 2).split(' ');
  return { pid, comm: stat.slice(open + 1, close), state: rest[0] ?? '?', ppid: Number(rest[1]) };
}

export function cmdlineOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((w) => w !== '');
  } catch {
    return [];
  }
}

/** Alive = exists and is not a zombie (a zombie has already exited; it only waits for its parent). */
export function isAlive(pid: number): boolean {
  const p = procInfo(pid);
  return p !== null && p.state !== 'Z' && p.state !== 'X';
}

export function allPids(): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) if (/^\d+$/.test(e)) out.push(Number(e));
  return out;
}

/** Live pids whose mount namespace is one of `namespaces`. */
export function pidsInNamespaces(namespaces: Set<string>): Map<number, string> {
  const out = new Map<number, string>();
  if (namespaces.size === 0) return out;
  for (const pid of allPids()) {
    const ns = mntnsOf(pid);
    if (ns !== null && namespaces.has(ns) && isAlive(pid)) out.set(pid, ns);
  }
  return out;
}

/** This process and all its ancestors: never to be killed by a sweep (ovl may run inside a host). */
export function selfAndAncestors(): Set<number> {
  const out = new Set<number>();
  let pid = process.pid;
  while (pid > 0 && !out.has(pid)) {
    out.add(pid);
    const p = procInfo(pid);
    if (!p) break;
    pid = p.ppid;
  }
  return out;
}

/**
 * Whether `pid` lives in a sandbox host's mount namespace: its /data must be a bind mount of
 * `hostDataDir`. This guards against a namespace inode that was freed and reused by something else.
 */
export function hasDataMountOf(pid: number, hostDataDir: string): boolean {
  let info: string;
  let want: string;
  try {
    info = readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
    want = realpathSync(hostDataDir);
  } catch {
    return false;
  }
  for (const line of info.split('\n')) {
    const f = line.split(' ');
    // mountinfo: id parent major:minor root mountpoint ...; root is the path inside its file system.
    if (f[4] === '/data' && f[3] !== undefined && f[3] !== '/' && want.endsWith(f[3])) return true;
  }
  return false;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // ESRCH: already gone.
  }
}

/**
 * End the processes that `scan()` returns: SIGTERM, wait up to `graceMs` for them to go, then
 * SIGKILL whatever is left (rescanning, so a supervisor that respawns children loses too).
 * Returns the pids that were signalled.
 */
export async function terminate(scan: () => number[], graceMs = 5000): Promise<Set<number>> {
  const hit = new Set<number>();
  let pids = scan();
  const termDeadline = Date.now() + graceMs;
  while (pids.length > 0 && Date.now() < termDeadline) {
    for (const pid of pids) {
      if (!hit.has(pid)) signal(pid, 'SIGTERM');
      hit.add(pid);
    }
    await sleep(50);
    pids = scan();
  }
  const killDeadline = Date.now() + 5000;
  while (pids.length > 0) {
    for (const pid of pids) {
      signal(pid, 'SIGKILL');
      hit.add(pid);
    }
    await sleep(50);
    pids = scan();
    if (Date.now() > killDeadline) {
      throw new Error(`processes survived SIGKILL: ${pids.join(', ')} (uninterruptible sleep?)`);
    }
  }
  return hit;
}
