// Shared by the e2e tests: one sandbox fleet ("e2e") for every test file, brought up on
// first use and torn down by test/run.sh (and by `ovl sandbox down --name e2e`).
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { getTask } from '../../src/cluster/task-store.js';
import { projectRoot } from '../../src/paths.js';
import { sandboxReset, sandboxUp, type SandboxInfo } from '../../src/sandbox/sandbox.js';
import { loadFleet } from '../../src/inventory/fleet.js';
import { at, clientURL, etcdAccess, withEtcd, type EtcdAccess } from '../../src/state/etcd.js';

// OVL_E2E_NAME/OVL_E2E_NET let two checkouts run their e2e tests at once on separate fleets.
export const FLEET = {
  name: process.env.OVL_E2E_NAME ?? 'e2e',
  net: process.env.OVL_E2E_NET ?? '127.0.2',
  hosts: Number(process.env.OVL_E2E_HOSTS ?? 4),
};
const quiet = () => {};

export async function fleet(): Promise<SandboxInfo> {
  return sandboxUp({ name: FLEET.name, hosts: FLEET.hosts, net: FLEET.net, inventory: join(projectRoot, 'inventories', `${FLEET.name}.yml`), log: quiet });
}

/** Every host fresh: no process started on it, empty /data, pristine /etc. */
export async function freshFleet(): Promise<SandboxInfo> {
  const info = await fleet();
  await sandboxReset(FLEET.name, undefined, quiet);
  return info;
}

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the ovl CLI as a user would (the built one, plain output). */
export function ovl(args: string[], env: Record<string, string> = {}): Ran {
  const r = spawnSync(process.execPath, [join(projectRoot, 'bin', 'ovl.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, CI: '1', ...env },
    timeout: 300_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The same CLI left running, for what a test does meanwhile (a daemon, a concurrent run). */
export function ovlProcess(args: string[], stdio: StdioOptions, env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [join(projectRoot, 'bin', 'ovl.js'), ...args], { stdio, env: { ...process.env, CI: '1', ...env } });
}

/** The CLI run as ovl() does, without blocking: for many commands at once. */
export function ovlAsync(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const p = ovlProcess(args, ['ignore', 'pipe', 'pipe'], env);
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (d) => (stdout += d));
    p.stderr!.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** An instance as `ovl cluster show --json` lists it. */
export interface ShownInstance {
  host: string;
  address: string;
  port: number;
  role: string;
  id: string;
  masterId?: string;
  shard: number;
  slots?: [number, number][];
}

/** A cluster's instances as `ovl cluster show NAME --json --no-probe` lists them. */
export function shownInstances(inventory: string, name: string): ShownInstance[] {
  const r = ovl(['cluster', 'show', name, '--json', '--no-probe', '-i', inventory]);
  if (r.code !== 0) throw new Error(`ovl cluster show ${name} failed (exit ${r.code}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as { instances: ShownInstance[] }).instances;
}

/** One command to a cache instance on a connection of its own, closed afterwards. */
export async function ask(i: { address: string; port: number }, ...command: string[]): Promise<unknown> {
  const c = new Redis({ host: i.address, port: i.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await c.connect();
    return await c.call(command[0]!, ...command.slice(1));
  } finally {
    c.disconnect();
  }
}

/** `ovl scheduler` left running, its output collected: for tests that kill it. */
export function schedulerProcess(inventory: string, env: Record<string, string>) {
  const p = ovlProcess(['scheduler', '-i', inventory], ['ignore', 'pipe', 'pipe'], env);
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (out += d));
  return { p, out: () => out, exited: new Promise<void>((r) => p.once('exit', () => r())) };
}

/**
 * What a test of resuming does once a scheduler waits at its fault point: SIGKILL it, start
 * another, wait until the task (named in `queued`, the output of the command that queued it)
 * ends; the task record and the second scheduler's output.
 */
export async function killAndFinish(sched: ReturnType<typeof schedulerProcess>, queued: string, info: { inventory: string; hosts: { address: string }[] }, children: ChildProcess[], o: { inventory?: string; ms?: number } = {}) {
  sched.p.kill('SIGKILL');
  await sched.exited;
  const id = /^task (\S+):/m.exec(queued)![1]!;
  const taskOf = () => withEtcd(etcdOf(o.inventory ?? info.inventory), (e) => getTask(e, id));
  const next = schedulerProcess(o.inventory ?? info.inventory, {});
  children.push(next.p);
  await until(async () => ['done', 'failed'].includes((await taskOf())?.state ?? ''), o.ms ?? 240_000);
  next.p.kill('SIGTERM');
  await next.exited;
  return { task: await taskOf(), out: next.out(), taskOf };
}

/** How the inventory's etcd is reached (its members, or `only` these hosts), as ovl reaches it. */
export function etcdOf(inventory: string, only?: { address: string }[]): EtcdAccess {
  const inv = loadFleet(inventory);
  const a = etcdAccess(inv);
  return only ? at(a, inv.hosts.filter((h) => only.some((o) => o.address === h.address)).map(clientURL)) : a;
}

/** Wait until `done` holds, asking every 100 ms, at most `ms`. */
export async function until(done: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await done()) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
}

/** Run a command on a sandbox host over real SSH with the OpenSSH client. */
export function onHost(info: SandboxInfo, host: string, command: string): Ran {
  const h = info.hosts.find((x) => x.name === host);
  if (!h) throw new Error(`no host ${host} in sandbox ${info.name}`);
  const r = spawnSync(
    'ssh',
    ['-i', info.fleetKey, '-o', `UserKnownHostsFile=${info.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `root@${h.address}`, command],
    { encoding: 'utf8', timeout: 60_000 },
  );
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export interface JsonRecap {
  ok: boolean;
  check: boolean;
  hosts: { host: string; ok: number; changed: number; failed: number; skipped: number; unreachable: boolean; error?: string }[];
  results: { component: string; host: string; title: string; status: string; reason: string; diff?: string; error?: string }[];
}

export function bootstrapJson(args: string[]): Ran & { recap: JsonRecap } {
  const r = ovl(['bootstrap', ...args, '--json']);
  let recap: JsonRecap;
  try {
    recap = JSON.parse(r.stdout) as JsonRecap;
  } catch {
    throw new Error(`ovl bootstrap --json printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { ...r, recap };
}

export const total = (recap: JsonRecap, key: 'ok' | 'changed' | 'failed' | 'skipped') => recap.hosts.reduce((n, h) => n + h[key], 0);
