// config: change a running cluster's settings. The first run decides, before changing anything,
// which directives Redis takes live and checks their values on one node; then the plan changes
// (with the memory reservation when maxmemory changes), the live values are set everywhere, the
// files on the hosts and the records follow, and what only a restart applies is rolled.
import { withAdmin } from '../admin.js';
import { fleetCapacity } from '../capacity.js';
import { classify, liveDifferences, memoryMB, resized, setLive } from '../settings.js';
import { addrOf, changePlan, getPlan, getSecret, updateConfig } from '../store.js';
import { putTask, type ConfigTask } from '../task-store.js';
import type { Plan } from '../types.js';
import { allocKey } from '../../state/keys.js';
import { mapLimit } from '../../util/semaphore.js';
import { step, type TaskContext } from './context.js';
import { settle } from './health.js';
import { rewriteFiles, setupsOf, writeInstances } from './instances.js';
import type { TaskKindModule } from './registry.js';
import { rollCluster } from './roll.js';

async function runConfig(ctx: TaskContext, task: ConfigTask): Promise<void> {
  const c = ctx.etcd;
  let plan = await getPlan(c, task.cluster);
  if (!plan) throw new Error(`no cluster named ${task.cluster}`);
  const auth = await getSecret(c, task.cluster);
  const names = Object.keys(task.set);
  const mb = task.set.maxmemory !== undefined ? memoryMB(task.set.maxmemory) : undefined;
  if (task.live === undefined) {
    const via = plan.instances.find((i) => i.role !== 'replica')!;
    const k = await classify(plan, names, via, auth);
    if (k.unknown.length) throw new Error(`redis ${plan.version} does not know ${k.unknown.join(', ')} (CONFIG GET answers nothing); nothing was changed`);
    if (plan.type === 'memcache' && !task.yes) throw new Error('memcached takes its memory (-m) only at start, and a restart empties the node: give --yes to restart the nodes one at a time; nothing was changed');
    // Redis's own word on each value, on one node: refused, nothing changed anywhere.
    if (k.live.length) await withAdmin(via, { auth }, (r) => setLive(r, k.live.map((n) => [n, task.set[n]!])));
    task.live = k.live;
    task.restart = k.restart;
    await putTask(c, task);
  }
  await step(ctx, task, `recording ${names.map((n) => `${n}=${task.set[n]}`).join(' ')} in the plan`);
  plan = await changePlan(c, task.cluster, 'new settings', async (p) => {
    const config = Object.fromEntries(Object.entries({ ...p.config, ...task.set }).filter(([n]) => n !== 'maxmemory'));
    const next: Plan = { ...p, ...(Object.keys(config).length ? { config } : {}), ...(mb !== undefined ? { maxmemoryMB: mb } : {}) };
    if (mb === undefined || mb === p.maxmemoryMB) return { next };
    // The reservation follows maxmemory, against the hosts' memory, as create places it.
    const read = await fleetCapacity(c);
    const { allocs, short } = resized(next, mb, read.hosts, read.allocs ?? new Map());
    if (short.length) throw new Error(`maxmemory=${task.set.maxmemory} does not fit: ${short.join('; ')}; nothing was changed`);
    return { next, also: [...allocs].map(([host, alloc]) => ({ key: allocKey(host), rev: read.revisions.get(host) ?? '0', value: JSON.stringify(alloc) })) };
  });
  // The cluster's record (list, show) says the same as the plan.
  await updateConfig(c, task.cluster, { ...(mb !== undefined ? { maxmemoryMB: mb } : {}), ...(plan.config ? { config: plan.config } : {}) });

  const live = (task.live ?? []).map((n) => [n, task.set[n]!] as [string, string]);
  const missed: string[] = [];
  if (live.length) {
    await step(ctx, task, `setting ${live.map(([n, v]) => `${n}=${v}`).join(' ')} on ${plan.instances.length} instances (CONFIG SET)`);
    await mapLimit(plan.instances, 32, (i) =>
      // One that does not answer now gets it from its redis.conf when it starts again.
      withAdmin(i, { auth }, (r) => setLive(r, live)).catch((e: Error) => void missed.push(`${addrOf(i)} (${e.message})`)),
    );
  }
  await step(ctx, task, `writing redis.conf of ${plan.instances.length} instances on their hosts`);
  const setups = setupsOf(plan, plan.instances, task, auth);
  if (plan.type !== 'memcache') await rewriteFiles(ctx, plan, plan.instances, task, auth, setups);
  await writeInstances(ctx, plan, 'starting', { setups, auth });
  if (task.restart?.length) {
    await step(ctx, task, `${task.restart.join(', ')} ${task.restart.length === 1 ? 'needs' : 'need'} a restart: rolling restart`);
    await rollCluster(ctx, task);
  } else {
    await step(ctx, task, `consistency check of ${plan.instances.length} instances`);
    await settle(ctx, plan, auth);
  }
  const found = plan.type === 'memcache' ? undefined : await liveDifferences(plan, names, auth);
  const differ = found ? [...[...found.differ].flatMap(([n, list]) => list.map((d) => `${d.addr} ${n}=${d.live}`)), ...found.unreachable] : [];
  await step(ctx, task, `settings in force: ${names.map((n) => `${n}=${task.set[n]}`).join(' ')}${task.live?.length ? ` (live: ${task.live.join(', ')})` : ''}${task.restart?.length ? ` (by a rolling restart: ${task.restart.join(', ')}${task.pauseMs !== undefined ? `; writes paused at most ${task.pauseMs} ms` : ''})` : ''}${missed.length ? `; not set live on ${missed.join('; ')}` : ''}${differ.length ? `; still different: ${differ.join('; ')}` : ''}`);
}

export const configTask: TaskKindModule<ConfigTask> = { run: runConfig };
