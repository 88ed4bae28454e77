// `ovl cluster failover NAME --instance IP:PORT`: a planned switchover to that replica. What is
// asked is checked here against the plan and the live replica (a usage error changes nothing),
// then queued as a task; --check says what would change without changing it.
import { roleOf, withAdmin } from '../cluster/admin.js';
import { cannotPromote, shardMasterOf } from '../cluster/roles.js';
import { formatSlotRange } from '../cluster/slots.js';
import { addrOf, getPlan, getSecret } from '../cluster/store.js';
import { newTask } from '../cluster/task-store.js';
import type { Out } from '../ui/follow.js';
import { taskDone, warnWithoutScheduler, withState } from './cluster.js';
import { UsageError } from './errors.js';
import { NotFound } from '../api/errors.js';
import type { Etcd3 } from 'etcd3';
import type { Plan } from '../cluster/types.js';

export interface FailoverOptions {
  inventory?: string;
  instance?: string;
  wait?: boolean;
  check?: boolean;
}

/**
 * A switchover to `instance` judged against the plan and the live replica (a UsageError says why
 * it cannot be, and nothing changes); what it would change, in a sentence.
 */
export async function planFailover(etcd: Etcd3, name: string, instance: string | undefined): Promise<{ change: string; plan: Plan }> {
  const plan = await getPlan(etcd, name);
  if (!plan) throw new NotFound(`no cluster named ${name} (ovl cluster list)`);
  if (plan.type === 'memcache') throw new UsageError(`${name} is memcache: its nodes have no masters or replicas to fail over`);
  if (!instance) throw new UsageError(`say which replica becomes its shard's master: --instance IP:PORT (ovl cluster show ${name} lists them)`);
  const replica = plan.instances.find((i) => addrOf(i) === instance);
  const replicas = plan.instances.filter((i) => i.role === 'replica').map(addrOf);
  if (!replica) throw new NotFound(`--instance ${instance}: not an instance of ${name}; ${replicas.length ? `its replicas are ${replicas.slice(0, 12).join(', ')}${replicas.length > 12 ? ', ...' : ''}` : 'it has no replicas'}`);
  const master = shardMasterOf(plan, replica);
  if (!master) throw new UsageError(`shard ${replica.shard} of ${name} has no master in the plan`);
  const shard = plan.instances.filter((i) => i.shard === replica.shard);
  if (replica.role === 'master') {
    const own = shard.filter((i) => i.role === 'replica').map(addrOf);
    throw new UsageError(`--instance ${instance} is the master of shard ${replica.shard} already; ${own.length ? `name one of its replicas (${own.join(', ')}) to make it the master` : 'the shard has no replica to take over'}`);
  }
  const why = cannotPromote(plan, replica);
  if (why) throw new UsageError(`--instance ${instance}: ${why}`);
  // The replica must answer and be in sync now: refused here rather than by the task.
  const auth = await getSecret(etcd, name);
  const role = await withAdmin(replica, { auth }, roleOf).catch((e: Error) => {
    throw new UsageError(`--instance ${instance} (${replica.host}) does not answer (${e.message}): a replica that is down cannot take over (ovl cluster restart ${name} brings it back)`);
  });
  // A switch Redis made but the plan does not show yet (a failover that failed after it) is
  // queued again: the task finds it made and records it.
  const madeAlready = role[0] === 'master' && (await withAdmin(master, { auth }, roleOf).catch(() => undefined))?.[0] === 'slave';
  if (!madeAlready && (role[0] !== 'slave' || `${role[1]}:${role[2]}` !== addrOf(master) || role[3] !== 'connected')) {
    throw new UsageError(`--instance ${instance} is not replicating ${addrOf(master)} with its link up (ROLE: ${role.slice(0, 4).join(' ')}): ovl cluster check ${name} says why`);
  }
  const slots = master.slots?.length ? ` with slots ${master.slots.map(formatSlotRange).join(',')}` : '';
  return { plan, change: `${instance} (${replica.host}) becomes the master of shard ${replica.shard}${slots} in place of ${addrOf(master)} (${master.host}), which replicates it${shard.length > 2 ? " with the shard's other replicas" : ''}` };
}

export async function clusterFailover(name: string, o: FailoverOptions, out: Out): Promise<number> {
  return withState(o.inventory, async (etcd, inv) => {
    const { plan, change } = await planFailover(etcd, name, o.instance);
    if (o.check) {
      out(`would change: ${change}`);
      out(plan.type === 'redis_cluster' ? 'writes to the shard pause while the replica takes its last writes (CLUSTER FAILOVER); clients follow the MOVED redirection' : `writes pause while the replica takes its last writes; clients must then write to ${o.instance} (ovl cluster show ${name})`);
      return 0;
    }
    const task = await newTask(etcd, 'failover', name, { instance: o.instance! });
    out(`task ${task.id}: failover of ${name}: ${change}`);
    if (!o.wait) {
      out(`queued; follow it with: ovl cluster show ${name}`);
      await warnWithoutScheduler(etcd, out);
      return 0;
    }
    const done = await taskDone(`failover of ${name}`, inv, etcd, task.id, out);
    if (!done) return 2;
    out(done.step);
    return 0;
  });
}
