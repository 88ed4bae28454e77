// `ovl cluster config NAME name=value ...`: change settings of a running cluster (a task), or
// `--show` the settings in force. What is asked is checked here first: the rules of create's
// --config, a directive this Redis knows, memory that fits; --check says what would happen.
import { fleetCapacity } from '../cluster/capacity.js';
import { rollOrder, outage } from '../cluster/roll.js';
import { badSetting, classify, liveDifferences, memoryMB, renderedSettings, resized } from '../cluster/settings.js';
import { addrOf, getPlan, getSecret } from '../cluster/store.js';
import { newTask } from '../cluster/task-store.js';
import type { Plan } from '../cluster/types.js';
import type { Out } from '../ui/follow.js';
import { taskDone, warnWithoutScheduler, withState } from './cluster.js';
import { UsageError } from './errors.js';
import { NotFound } from '../api/errors.js';
import type { Etcd3 } from 'etcd3';
import { table } from '../ui/table.js';
import type { ClusterAuth } from '../cluster/auth.js';

export interface ConfigOptions {
  inventory?: string;
  show?: boolean;
  check?: boolean;
  yes?: boolean;
  wait?: boolean;
}

function parseSettings(plan: Plan, args: string[]): Record<string, string> {
  const set: Record<string, string> = {};
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq < 1) throw new UsageError(`${JSON.stringify(a)}: write name=value, e.g. maxmemory-policy=allkeys-lru`);
    const name = a.slice(0, eq).trim();
    const value = a.slice(eq + 1).trim();
    if (name in set) throw new UsageError(`${name} is given twice`);
    const why = badSetting(plan, name, value);
    if (why) throw new UsageError(why);
    set[name] = value;
  }
  return set;
}

/** A settings change judged: the rules of create's --config, a directive this Redis knows, memory
 * that fits; which settings go live and which need a restart (and its outage). */
export async function planConfig(etcd: Etcd3, plan: Plan, auth: ClusterAuth | undefined, args: string[], o: { yes?: boolean; check?: boolean }) {
  const name = plan.cluster;
  if (!args.length) throw new UsageError(`say what to change (name=value ...), or --show the settings of ${name}`);
  const set = parseSettings(plan, args);
  const mb = set.maxmemory !== undefined ? memoryMB(set.maxmemory) : undefined;
  if (mb !== undefined && mb > plan.maxmemoryMB) {
    const read = await fleetCapacity(etcd);
    const { short } = resized({ ...plan, maxmemoryMB: mb }, mb, read.hosts, read.allocs ?? new Map());
    if (short.length) throw new UsageError(`maxmemory=${set.maxmemory} does not fit: ${short.join('; ')}`);
  }
  if (plan.type === 'memcache' && !o.yes && !o.check) throw new UsageError(`memcached takes its memory (-m) only at start, and a restart empties the node: give --yes to restart ${name}'s nodes one at a time`);
  const via = plan.instances.find((i) => i.role !== 'replica')!;
  const k = await classify(plan, Object.keys(set), via, auth).catch((e: Error) => {
    throw new UsageError(`${addrOf(via)} does not answer (${e.message}): it is asked which settings this Redis takes live`);
  });
  if (k.unknown.length) throw new UsageError(`redis ${plan.version} does not know ${k.unknown.join(', ')} (CONFIG GET answers nothing)`);
  const cost = k.restart.length ? outage(plan, rollOrder(plan)) : undefined;
  if (cost && !o.yes && !o.check) throw new UsageError(`${k.restart.join(', ')} need a restart, and ${cost}; give --yes to accept that`);
  return { set, mb, live: k.live, restart: k.restart, cost };
}

export const queueConfig = (etcd: Etcd3, name: string, set: Record<string, string>, yes?: boolean) => newTask(etcd, 'config', name, { set, ...(yes ? { yes: true } : {}) });

export async function clusterConfig(name: string, args: string[], o: ConfigOptions, out: Out): Promise<number> {
  return withState(o.inventory, async (etcd, inv) => {
    const plan = await getPlan(etcd, name);
    if (!plan) throw new NotFound(`no cluster named ${name} (ovl cluster list)`);
    const auth = await getSecret(etcd, name);
    if (o.show) return show(plan, auth, out);
    const { set, mb, live, restart, cost } = await planConfig(etcd, plan, auth, args, o);
    const k = { live, restart };
    if (o.check) {
      if (k.live.length) out(`live (CONFIG SET on every instance, then redis.conf): ${k.live.map((n) => `${n}=${set[n]}`).join(' ')}`);
      if (k.restart.length) out(`by a rolling restart (one shard at a time; ovl cluster restart ${name} --rolling --check shows the order): ${k.restart.map((n) => `${n}=${set[n]}`).join(' ')}`);
      if (mb !== undefined) out(`memory reserved per instance: ${plan.maxmemoryMB} MB -> ${mb} MB (plus 10 %)`);
      if (cost) out(`outage: ${cost} (needs --yes)`);
      return 0;
    }
    const task = await queueConfig(etcd, name, set, o.yes);
    out(`task ${task.id}: config of ${name}: ${Object.entries(set).map(([n, v]) => `${n}=${v}`).join(' ')}`);
    if (!o.wait) {
      out(`queued; follow it with: ovl cluster show ${name}`);
      await warnWithoutScheduler(etcd, out);
      return 0;
    }
    const done = await taskDone(`config of ${name}`, inv, etcd, task.id, out);
    if (!done) return 2;
    out(done.step);
    return 0;
  });
}

/** `--show`: each directive ovl renders (its own default, or the cluster's setting), and the
 * instances whose live value differs. */
async function show(plan: Plan, auth: ClusterAuth | undefined, out: Out): Promise<number> {
  if (plan.type === 'memcache') {
    for (const l of table(['DIRECTIVE', 'VALUE', 'SET BY'], [['maxmemory', `${plan.maxmemoryMB}mb`, 'ovl (memcached -m)']])) out(l);
    return 0;
  }
  const rendered = renderedSettings(plan, plan.instances[0]!);
  const skip = new Set(['bind', 'port', 'dir', 'pidfile', 'logfile', 'include', 'cluster-announce-ip', 'replica-announce-ip', 'slave-announce-ip', 'replicaof', 'slaveof', 'requirepass', 'masterauth', 'masteruser', 'user']);
  const names = [...rendered.keys()].filter((n) => !skip.has(n));
  const { differ, unreachable } = await liveDifferences(plan, names, auth);
  const rows = names.map((n) => [n, rendered.get(n) ?? '', plan.config?.[n] !== undefined ? 'cluster' : 'ovl', (differ.get(n) ?? []).map((d) => `${d.addr}: ${d.live}`).join('; ')]);
  for (const l of table(['DIRECTIVE', 'VALUE', 'SET BY', 'LIVE VALUE WHERE IT DIFFERS'], rows)) out(l);
  for (const u of unreachable) out(`not answering: ${u}`);
  return 0;
}
