// The plan after a switchover: which instance of a shard is its master. Pure: the failover task
// commits it once Redis has switched, so that check, restart and the rendered files follow.
import { versionOf } from './redisconf.js';
import type { Plan, PlannedInstance } from './types.js';

/**
 * Why `inst` cannot take its shard over, or undefined: not a replica, a shard member still
 * joining (restart finishes the join first), or a plain Redis older than 6.2 (no FAILOVER).
 */
export function cannotPromote(plan: Plan, inst: PlannedInstance): string | undefined {
  if (inst.role !== 'replica') return `${inst.address}:${inst.port} is a ${inst.role}: only a replica can take its shard over`;
  const joining = plan.instances.filter((i) => i.shard === inst.shard && i.joining);
  if (joining.length) return `${joining.map((i) => `${i.address}:${i.port}`).join(', ')} of shard ${inst.shard} has not joined the cluster yet (ovl cluster restart ${plan.cluster} finishes the join)`;
  if (plan.type === 'redis') {
    // FAILOVER runs on the master: every member of the group must have it.
    for (const v of new Set(plan.instances.filter((i) => i.shard === inst.shard).map((i) => i.version ?? plan.version))) {
      const [major, minor] = versionOf(v);
      if (major < 6 || (major === 6 && minor < 2)) return `redis ${v} has no FAILOVER command (6.2 and later): a switchover without it could lose writes`;
    }
  }
  return undefined;
}

/** The master of `inst`'s shard in the plan (itself when it is the master). */
export function shardMasterOf(plan: Plan, inst: PlannedInstance): PlannedInstance | undefined {
  return plan.instances.find((i) => i.shard === inst.shard && i.role === 'master');
}

/**
 * `id` becomes its shard's master: it takes the master's slots and config epoch (nodes.conf is
 * rendered from them), the old master and every other replica of the shard replicate it. The
 * shard's master stays first among its instances. A plan where `id` is the master already is
 * returned as it is.
 */
export function promote(plan: Plan, id: string): Plan {
  const inst = plan.instances.find((i) => i.id === id);
  if (!inst) throw new Error(`${id} is not an instance of ${plan.cluster}`);
  if (inst.role === 'master') return plan;
  const why = cannotPromote(plan, inst);
  if (why) throw new Error(why);
  const old = shardMasterOf(plan, inst);
  if (!old) throw new Error(`shard ${inst.shard} of ${plan.cluster} has no master in the plan`);
  const become = (i: PlannedInstance): PlannedInstance => {
    if (i.shard !== inst.shard) return i;
    const { masterId: _m, slots: _s, configEpoch: _e, ...rest } = i;
    if (i.id === id) return { ...rest, role: 'master', ...(old.slots ? { slots: old.slots } : {}), ...(old.configEpoch !== undefined ? { configEpoch: old.configEpoch } : {}) };
    return { ...rest, role: 'replica', masterId: id };
  };
  const instances = plan.instances.map(become);
  // Within a shard the master comes first (Plan.instances' order).
  const at = instances.findIndex((i) => i.shard === inst.shard);
  const shard = instances.filter((i) => i.shard === inst.shard);
  shard.sort((a, b) => (a.id === id ? -1 : b.id === id ? 1 : 0));
  instances.splice(at, shard.length, ...shard);
  return { ...plan, instances };
}
