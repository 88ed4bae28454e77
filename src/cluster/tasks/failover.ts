// failover: a planned switchover to a named replica (switchover.ts), then the plan, the files on
// the hosts and the instance records follow the new roles, so that check passes and restart
// does not fail the shard back. A re-run after a crash finds the switch made and finishes.
import { cannotPromote, promote, shardMasterOf } from '../roles.js';
import { addrOf, changePlan, getPlan, getSecret } from '../store.js';
import { switchover } from '../switchover.js';
import type { FailoverTask } from '../task-store.js';
import { checkTimeout, faultPoint, step, type TaskContext } from './context.js';
import { settle } from './health.js';
import { repairRecords, rewriteFiles } from './instances.js';
import type { TaskKindModule } from './registry.js';

async function runFailover(ctx: TaskContext, task: FailoverTask): Promise<void> {
  let plan = await getPlan(ctx.etcd, task.cluster);
  if (!plan) throw new Error(`no cluster named ${task.cluster}`);
  if (plan.type === 'memcache') throw new Error(`${task.cluster} is memcache: its nodes have no masters or replicas`);
  const auth = await getSecret(ctx.etcd, task.cluster);
  const replica = plan.instances.find((i) => addrOf(i) === task.instance);
  if (!replica) throw new Error(`${task.instance} is not an instance of ${task.cluster} (ovl cluster show ${task.cluster})`);
  const master = shardMasterOf(plan, replica);
  if (!master) throw new Error(`shard ${replica.shard} of ${task.cluster} has no master in the plan`);
  const o = { auth, timeoutMs: checkTimeout(plan), log: (l: string) => ctx.log(`${task.id}: ${l}`) };
  let pauseMs: number | undefined;
  // The plan names the replica master already: the switch was made and recorded by an earlier run.
  if (master.id !== replica.id) {
    const why = cannotPromote(plan, replica);
    if (why) throw new Error(`${why}; nothing was changed`);
    await step(ctx, task, `${addrOf(replica)} (${replica.host}) catching up with its master ${addrOf(master)} (${master.host}), then taking shard ${replica.shard} over`);
    const r = await switchover(plan, replica, master, o);
    pauseMs = r.already ? undefined : r.pauseMs;
    await faultPoint(ctx, 'switched');
    plan = await changePlan(ctx.etcd, task.cluster, `failover to ${task.instance}`, async (p) => ({ next: promote(p, replica.id) }));
  }
  const shard = plan.instances.filter((i) => i.shard === replica.shard);
  await step(ctx, task, `recording the new roles: redis.conf and meta.toml of ${shard.map(addrOf).join(', ')}, instance records`);
  await rewriteFiles(ctx, plan, shard, task, auth);
  await repairRecords(ctx, task, plan, auth);
  await step(ctx, task, `consistency check of ${plan.instances.length} instances`);
  await settle(ctx, plan, auth);
  const old = shard.filter((i) => i.id !== replica.id).map(addrOf);
  await step(ctx, task, `failed over: ${addrOf(replica)} (${replica.host}) is the master of shard ${replica.shard}${old.length ? `, ${old.join(', ')} ${old.length === 1 ? 'replicates' : 'replicate'} it` : ''}; ${pauseMs !== undefined ? `writes paused ${pauseMs} ms` : 'switched by an earlier run of this task'}`);
}

export const failoverTask: TaskKindModule<FailoverTask> = { run: runFailover };
