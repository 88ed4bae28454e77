// Which processes belong to which sandbox host: by mount namespace, checked through its /data mount.
import { readdirSync } from 'node:fs';
import { cmdlineOf, hasDataMountOf, isAlive, mntnsOf, pidsInNamespaces, procInfo } from './procs.js';
import type { SandboxHost } from './types.js';
import { layout } from './state.js';

/** The listening sshd of `h` is alive (same pid, same namespace, still sshd). */
export function sshdAlive(h: SandboxHost): boolean {
  return h.pid !== null && h.mntns !== null && isAlive(h.pid) && mntnsOf(h.pid) === h.mntns && procInfo(h.pid)?.comm === 'sshd';
}

/**
 * Mount namespaces that belong to the given hosts: the recorded one, plus that of any sshd started
 * with the host's sshd_config (in case the state file lost track of it). Each candidate is checked
 * through mountinfo (its /data is the host's data directory) so a reused namespace inode is never
 * taken for a host's.
 */
export function hostNamespaces(hosts: SandboxHost[]): Map<string, SandboxHost> {
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
export function processesByHost(hosts: SandboxHost[]): Map<string, number[]> {
  const nsmap = hostNamespaces(hosts);
  const out = new Map<string, number[]>(hosts.map((h) => [h.name, []]));
  for (const [pid, ns] of pidsInNamespaces(new Set(nsmap.keys()))) out.get(nsmap.get(ns)!.name)!.push(pid);
  return out;
}

/** The listening sshd and its sshd descendants (per-connection sshd processes) in namespace `ns`. */
export function sshdTree(listener: number, ns: string): number[] {
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

/**
 * The live processes of the given hosts, for a scan repeated while they are being stopped. A
 * namespace whose last process has gone can get its inode number again for another sandbox's new
 * host: each namespace is checked (its /data is the host's) at every scan, and dropped for good
 * once it is not the host's, so a second sandbox starting meanwhile is never taken for this one.
 */
export function hostProcessScan(nsmap: Map<string, SandboxHost>, keep: (pid: number) => boolean = () => false): () => number[] {
  const owners = new Map(nsmap);
  return () => {
    const live = pidsInNamespaces(new Set(owners.keys()));
    const checked = new Set<string>();
    for (const [pid, ns] of live) {
      if (checked.has(ns)) continue;
      checked.add(ns);
      if (!hasDataMountOf(pid, layout(owners.get(ns)!).data)) owners.delete(ns);
    }
    return [...live].filter(([pid, ns]) => owners.has(ns) && !keep(pid)).map(([pid]) => pid);
  };
}
