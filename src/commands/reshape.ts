// `ovl cluster scale` and `ovl cluster rebalance`: what is asked is checked here (a usage error
// changes nothing), then queued as a task; --check shows the plan without writing anything.
import type { Etcd3 } from 'etcd3';
import { fleetCapacity } from '../cluster/capacity.js';
import { getJson } from '../cluster/etcd-reads.js';
import { shapeChange, shapeOf, type Shape } from '../cluster/grow.js';
import { liveOwners } from '../cluster/migrate.js';
import { countSlots, reshardMoves, slotList } from '../cluster/reshard.js';
import { addrOf, getPlan, getSecret, type ClusterConfig } from '../cluster/store.js';
import { newTask } from '../cluster/task-store.js';
import type { Plan } from '../cluster/types.js';
import { withAdmin } from '../cluster/admin.js';
import { configKey } from '../state/keys.js';
import type { Out } from '../ui/follow.js';
import { plural } from '../util/plural.js';
import { table } from '../ui/table.js';
import { taskDone, warnWithoutScheduler, withState } from './cluster.js';
import { UsageError } from './errors.js';
import { NotFound } from '../api/errors.js';

export interface ScaleOptions {
  inventory?: string;
  masters?: number;
  replicas?: number;
  nodes?: number;
  force?: boolean;
  wait?: boolean;
  check?: boolean;
}

const describe = (plan: Plan, s: Shape) => (plan.type === 'memcache' ? plural(s.nodes, 'node') : `${plural(s.masters, 'master')} x ${plural(s.replicas, 'replica')}`);

/** The shape asked for, or a usage error saying what is wrong with it. */
function wantedShape(name: string, plan: Plan, o: Pick<ScaleOptions, 'masters' | 'replicas' | 'nodes' | 'force'>): Shape {
  const given = (['masters', 'replicas', 'nodes'] as const).filter((k) => o[k] !== undefined);
  if (!given.length) throw new UsageError(`say what ${name} should become: --masters N, --replicas N or --nodes N (memcache)`);
  if (plan.type === 'memcache' && (o.masters !== undefined || o.replicas !== undefined)) throw new UsageError(`${name} is memcache: its size is --nodes N (it has no masters or replicas)`);
  if (plan.type !== 'memcache' && o.nodes !== undefined) throw new UsageError(`${name} is ${plan.type}: its size is --masters N and --replicas N (--nodes is for memcache)`);
  const to = { ...shapeOf(plan), ...Object.fromEntries(given.map((k) => [k, o[k]])) } as Shape;
  if (plan.type === 'memcache' && (to.nodes < 1 || to.nodes > 4096)) throw new UsageError(`--nodes ${to.nodes}: a memcache cluster has 1..4096 nodes`);
  if (plan.type !== 'memcache') {
    const max = plan.type === 'redis_cluster' ? 1000 : 1024;
    if (to.masters < 1 || to.masters > max) throw new UsageError(`--masters ${to.masters}: 1..${max}${plan.type === 'redis_cluster' ? ' (Redis Cluster itself advises at most 1000 nodes)' : ''}`);
    if (to.replicas < 0 || to.replicas > 64) throw new UsageError(`--replicas ${to.replicas}: 0..64`);
    if (plan.type === 'redis_cluster' && to.masters < 3 && to.masters < shapeOf(plan).masters && !o.force) {
      throw new UsageError(`--masters ${to.masters}: a Redis Cluster of fewer than 3 masters has no majority left to fail over when one master is lost; give --force to do it anyway`);
    }
  }
  return to;
}

/** A scale judged against the plan: the shapes now and asked for (a UsageError when it cannot be). */
export async function planScale(etcd: Etcd3, name: string, o: Pick<ScaleOptions, 'masters' | 'replicas' | 'nodes' | 'force'>): Promise<{ plan: Plan; now: Shape; to: Shape; same: boolean }> {
  const cfg = await getJson<ClusterConfig>(etcd, configKey(name));
  const plan = cfg ? await getPlan(etcd, name) : null;
  if (!cfg || !plan) throw new NotFound(`no cluster named ${name}${cfg ? ' placed yet' : ''} (ovl cluster list)`);
  const now = shapeOf(plan);
  const to = wantedShape(name, plan, o);
  return { plan, now, to, same: now.masters === to.masters && now.replicas === to.replicas && now.nodes === to.nodes };
}

/** Queue the scale `planScale` judged. */
export const queueScale = (etcd: Etcd3, plan: Plan, to: Shape) => newTask(etcd, 'scale', plan.cluster, { to: plan.type === 'memcache' ? { nodes: to.nodes } : { masters: to.masters, replicas: to.replicas } });

/** A rebalance judged and queued. */
export async function queueRebalance(etcd: Etcd3, name: string, threshold?: number) {
  const plan = await getPlan(etcd, name);
  if (!plan) throw new NotFound(`no cluster named ${name} (ovl cluster list)`);
  if (plan.type !== 'redis_cluster') throw new UsageError(`${name} is ${plan.type}: only a redis_cluster has slots to rebalance`);
  return newTask(etcd, 'rebalance', name, threshold !== undefined ? { threshold } : {});
}

export async function clusterScale(name: string, o: ScaleOptions, out: Out): Promise<number> {
  return withState(o.inventory, async (etcd, inv) => {
    const { plan, now, to, same } = await planScale(etcd, name, o);
    if (same) {
      out(`nothing to do: ${name} has ${describe(plan, now)} already`);
      return 0;
    }
    if (o.check) return previewScale(etcd, plan, to, out);
    const task = await queueScale(etcd, plan, to);
    out(`task ${task.id}: scale ${name} from ${describe(plan, now)} to ${describe(plan, to)}`);
    if (!o.wait) {
      out(`queued; follow it with: ovl cluster show ${name}`);
      await warnWithoutScheduler(etcd, out);
      return 0;
    }
    const t0 = Date.now();
    if (!(await taskDone(`scale ${name}`, inv, etcd, task.id, out))) return 2;
    out(`${name}: ${describe(plan, to)} (${((Date.now() - t0) / 1000).toFixed(1)} s)${plan.type === 'memcache' ? `; clients must be given the new node list (ovl cluster show ${name})` : ''}`);
    return 0;
  });
}

/** `scale --check`: new instances and their hosts, what goes, which slots move where and how many keys. */
async function previewScale(etcd: Etcd3, plan: Plan, to: Shape, out: Out): Promise<number> {
  let ch;
  try {
    ch = shapeChange(plan, to, (await fleetCapacity(etcd)).hosts);
  } catch (e) {
    out(`check: scale ${plan.cluster} to ${describe(plan, to)} would fail: ${(e as Error).message}. Nothing was changed.`);
    return 2;
  }
  out(`check: scale ${plan.cluster} from ${describe(plan, shapeOf(plan))} to ${describe(plan, to)}. Nothing was changed.`);
  const changes = [...ch.add.map((i) => ['add', i] as const), ...ch.remove.map((i) => ['remove', i] as const)];
  for (const l of table(['CHANGE', 'ROLE', 'SHARD', 'HOST', 'INSTANCE'], changes.map(([what, i]) => [what, i.role, String(i.shard), i.host, addrOf(i)]))) out(l);
  if (plan.type !== 'redis_cluster' || ![...ch.add, ...ch.remove].some((i) => i.role === 'master')) return 0;
  const auth = await getSecret(etcd, plan.cluster);
  const masters = plan.instances.filter((i) => i.role === 'master');
  const added = ch.add.filter((i) => i.role === 'master');
  const kept = [...masters.filter((m) => !ch.remove.includes(m)), ...added];
  const moves = reshardMoves(await liveOwners(masters, auth), kept.map((m) => m.id));
  const label = (id: string) => {
    const i = [...masters, ...added].find((x) => x.id === id)!;
    return `${addrOf(i)} (${i.host}${added.includes(i) ? ', new' : ''})`;
  };
  let keys = 0;
  const rows: string[][] = [];
  for (const m of moves) {
    const src = masters.find((x) => x.id === m.from)!;
    const n = await withAdmin(src, { auth }, async (c) => {
      const p = c.pipeline();
      for (const s of slotList(m.slots)) p.call('CLUSTER', 'COUNTKEYSINSLOT', String(s));
      return ((await p.exec()) ?? []).reduce((t, [, v]) => t + Number(v ?? 0), 0);
    });
    keys += n;
    rows.push([String(countSlots(m.slots)), label(m.from), label(m.to), String(n)]);
  }
  if (rows.length) for (const l of table(['SLOTS', 'FROM', 'TO', 'KEYS'], rows)) out(l);
  out(`${moves.reduce((n, m) => n + countSlots(m.slots), 0)} slots and ${keys} keys to move in ${plural(moves.length, 'move')}`);
  return 0;
}

export async function clusterRebalance(name: string, o: { inventory?: string; threshold?: number; wait?: boolean }, out: Out): Promise<number> {
  return withState(o.inventory, async (etcd, inv) => {
    const task = await queueRebalance(etcd, name, o.threshold);
    out(`task ${task.id}: rebalance ${name}`);
    if (o.wait === false) {
      await warnWithoutScheduler(etcd, out);
      return 0;
    }
    return (await taskDone(`rebalance ${name}`, inv, etcd, task.id, out)) ? 0 : 2;
  });
}
