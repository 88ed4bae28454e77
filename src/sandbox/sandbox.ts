// `ovl sandbox`: real hosts on one machine. Each host is an sshd in its own mount + UTS namespace
// with its own hostname, its own /data (a bind mount of a per-host directory), its own /etc (an
// overlay over the real /etc whose upper dir is per host), its own loopback address and host key.
// Root logs in with a generated fleet key. Processes started over SSH on a host live in its
// namespace, which is how `down` and `reset` find them.

import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { assertMatch, SAFE_PATH_RE } from '../shell.js';
import { isAlive, pidsInNamespaces, selfAndAncestors, terminate } from './procs.js';
import { localArtifacts, requireRoot, requireTools } from './preconditions.js';
import { checkName, checkStateDir, defaultInventory, defaultStateDir, findHost, layout, loadState, mustLoad, NET_RE, saveState, STATE_FILE } from './state.js';
import { hostNamespaces, hostProcessScan, processesByHost, sshdAlive, sshdTree } from './namespaces.js';
import { ensureKey, FRESH_ETC_SCRIPT, run, startHost, tcpAccepts } from './host-start.js';
import { removeWritten, writeInventory } from './written.js';
import type { Log, SandboxHost, SandboxInfo, SandboxStatus, SandboxUpOptions } from './types.js';

export type { HostStatus, Log, SandboxHost, SandboxInfo, SandboxStatus, SandboxUpOptions } from './types.js';
export { defaultInventory, defaultStateDir } from './state.js';

/** Grace period between SIGTERM and SIGKILL. */
const GRACE_MS = 5000;

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
  const protect = selfAndAncestors();
  const scan = hostProcessScan(hostNamespaces(info.hosts), (p) => protect.has(p));
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
      const scan = hostProcessScan(new Map([...nsmap].filter(([, owner]) => owner === h)), (p) => protect.has(p) || (alive && p === h.pid));
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
