// delete: stop and remove every instance, then the cluster's keys and its ports.
import type { Etcd3 } from 'etcd3';
import { allocate } from '../allocations.js';
import { getPlan, removeCluster, updateConfig } from '../store.js';
import type { DeleteTask } from '../task-store.js';
import type { RetiredInstance } from '../types.js';
import { step, type TaskContext } from './context.js';
import { stopOnHosts, stopRetired } from './instances.js';
import type { TaskKindModule } from './registry.js';

async function runDelete(ctx: TaskContext, task: DeleteTask): Promise<void> {
  const c = ctx.etcd;
  const plan = await getPlan(c, task.cluster);
  let left: RetiredInstance[] = [];
  if (plan) {
    await updateConfig(c, task.cluster, { state: 'deleting' });
    await step(ctx, task, `stopping ${plan.instances.length} instances and removing their directories`);
    await stopOnHosts(ctx, plan, plan.instances, true).catch((e: Error) => {
      throw new Error(`${e.message}. Its keys and ports are kept (state "deleting"): run ovl cluster delete ${task.cluster} again once every host answers`);
    });
    // Retired instances are stopped where their hosts answer; one lost for good must not keep
    // the cluster from going, but the port its process may still hold stays taken.
    ({ left } = await stopRetired(ctx, task, plan));
  }
  await step(ctx, task, `removing its keys and freeing its ports${left.length ? ` (but ${left.map((r) => `${r.host}:${r.port}`).join(', ')}, where retired instances may still run)` : ''}`);
  await removeClusterKeys(c, task.cluster, task.id, left);
  await step(ctx, task, 'deleted');
}

/** Every key of the cluster but the task's record, and its ports freed; again while another change races with it. */
export async function removeClusterKeys(c: Etcd3, cluster: string, taskId: string, keepPorts: { host: string; port: number }[] = []): Promise<void> {
  await allocate(`removing ${cluster}`, () => removeCluster(c, cluster, taskId, keepPorts));
}


export const deleteTask: TaskKindModule<DeleteTask> = { run: runDelete };
