// Test rig: runs the instances of a plan as plain local processes (redis-server, memcached) on
// loopback addresses of this machine, from the files ovl renders (redisFiles: redis.conf,
// nodes.conf, the seed dump.rdb; memcacheArgs), in a temporary directory. Every process it starts is killed by
// stopAll() (and, as a last resort, when the test process exits); cleanup() removes the directory.
//
// Only the working directory differs from a real deployment: redisFiles' `dir` option
// points it into the temporary directory instead of /data/<type>/<port>. memcached gets no
// working directory from its arguments (instanceDir only appears in a comment there).

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memcacheArgs } from '../../src/cluster/memcacheargs.js';
import { redisFiles } from '../../src/cluster/hostops.js';
import type { HostCapacity, Plan, PlannedInstance } from '../../src/cluster/types.js';
import type { ClusterAuth } from '../../src/cluster/auth.js';

export const REDIS_SERVER = process.env.OVL_REDIS_SERVER ?? '/usr/bin/redis-server';
export const MEMCACHED = process.env.OVL_MEMCACHED ?? '/usr/bin/memcached';

/** Fake hosts h1..hN at <net>.1..N sharing one port range (the whole 127/8 answers on lo). */
export function loopbackHosts(n: number, net: string, ports: { from: number; to: number }): HostCapacity[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `h${i + 1}`,
    address: `${net}.${i + 1}`,
    cpu: 2,
    memMB: 64 * 1024,
    ports,
    usedPorts: [],
    usedMemMB: 0,
    versions: { redis: ['7.0.15'], memcache: ['1.6.18'] },
  }));
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export interface StartOptions {
  auth?: ClusterAuth;
  /** TLS plans: the directory of each host's ca.crt, host.crt and host.key. */
  tlsDirOf?: (host: string) => string;
  /** Extra redis.conf directives (RedisConfOptions.extra). */
  extra?: Record<string, string>;
}

export class LocalRig {
  readonly root = mkdtempSync(join(tmpdir(), 'ovl-rig-'));
  private readonly procs = new Map<string, ChildProcess>();

  dirOf(inst: PlannedInstance): string {
    return join(this.root, inst.host, String(inst.port));
  }

  /** Render every instance's files and start all of them (without waiting for them). */
  start(plan: Plan, opts: StartOptions = {}): void {
    for (const inst of plan.instances) this.startOne(plan, inst, opts);
  }

  startOne(plan: Plan, inst: PlannedInstance, opts: StartOptions = {}): void {
    const dir = this.dirOf(inst);
    mkdirSync(dir, { recursive: true });
    let cmd: string;
    let args: string[];
    if (plan.type === 'memcache') {
      cmd = MEMCACHED;
      args = memcacheArgs(plan, inst);
    } else {
      const files = redisFiles(opts.extra ? { ...plan, config: { ...plan.config, ...opts.extra } } : plan, inst, { dir, auth: opts.auth, tlsDir: opts.tlsDirOf?.(inst.host) });
      for (const f of files) writeFileSync(join(dir, f.name), f.content, { mode: f.mode });
      cmd = REDIS_SERVER;
      args = [join(dir, 'redis.conf')];
    }
    // What ovl's starter does: foreground process, output appended to console.log.
    const log = openSync(join(dir, 'console.log'), 'a');
    const child = spawn(cmd, args, { cwd: dir, stdio: ['ignore', log, log] });
    closeSync(log);
    child.on('error', () => {});
    live.add(child);
    child.once('exit', () => live.delete(child));
    this.procs.set(inst.id, child);
  }

  /** SIGKILL one instance and wait until it is gone. */
  async kill(inst: PlannedInstance): Promise<void> {
    const c = this.procs.get(inst.id);
    if (c) await killAndWait(c);
  }

  /** The last lines of an instance's console.log (for failure messages). */
  logTail(inst: PlannedInstance, lines = 15): string {
    const f = join(this.dirOf(inst), 'console.log');
    if (!existsSync(f)) return '(no console.log)';
    const exit = this.procs.get(inst.id);
    const status = exit && (exit.exitCode !== null || exit.signalCode !== null) ? ` [exited: ${exit.exitCode ?? exit.signalCode}]` : '';
    return `${readFileSync(f, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')}${status}`;
  }

  /** Send a signal to one instance (SIGSTOP makes it accept connections but never answer). */
  signal(inst: PlannedInstance, sig: NodeJS.Signals): void {
    this.procs.get(inst.id)?.kill(sig);
  }

  /** SIGKILL everything this rig started and wait for it. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.procs.values()].map(killAndWait));
    this.procs.clear();
  }

  async cleanup(keep = false): Promise<void> {
    await this.stopAll();
    if (!keep) rmSync(this.root, { recursive: true, force: true });
  }
}

function killAndWait(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    c.once('exit', () => resolve());
    c.kill('SIGKILL');
  });
}
