// restart: start what is down (or the named instances), move what cannot start (--move), fail back, check.
import { serves } from '../check.js';
import { failBack } from '../failback.js';
import type { HostReport } from '../hostops.js';
import { forgetNode, joinShard, shardMaster } from '../join.js';
import { newNodeId } from '../nodeid.js';
import { instanceMemMB, relocation } from '../placement.js';
import { addrOf, getPlan, getSecret, markForgotten, markJoined, replaceInstance, setInstanceStates, swapInstance } from '../store.js';
import type { RestartTask } from '../task-store.js';
import type { Plan, PlannedInstance } from '../types.js';
import { checkTimeout, faultPoint, placeableCapacity, step, type TaskContext } from './context.js';
import { firstCheckAt, settle } from './health.js';
import { repairRecords, startOnHosts, stopOnHosts, stopRetired } from './instances.js';
import type { TaskKindModule } from './registry.js';
import { allocate } from '../allocations.js';
import type { ClusterAuth } from '../auth.js';

async function runRestart(ctx: TaskContext, task: RestartTask): Promise<void> {
  const c = ctx.etcd;
  const found = await getPlan(c, task.cluster);
  if (!found) throw new Error(`no cluster named ${task.cluster}`);
  let plan = found;
  const auth = await getSecret(c, task.cluster);
  const wanted = task.instances?.length ? plan.instances.filter((i) => task.instances!.includes(addrOf(i))) : plan.instances;
  const unknown = (task.instances ?? []).filter((a) => !found.instances.some((i) => addrOf(i) === a));
  if (unknown.length) throw new Error(`${unknown.join(', ')}: not an instance of ${task.cluster} (see ovl cluster show ${task.cluster})`);
  ({ plan } = await stopRetired(ctx, task, plan));
  if (task.instances?.length) {
    // Named instances are restarted even when running; the others only when down.
    await step(ctx, task, `stopping ${wanted.map(addrOf).join(', ')}`);
    await stopOnHosts(ctx, plan, wanted, false);
  }
  await step(ctx, task, `starting what is down among ${wanted.length} instances (data and identity kept)`);
  const { reports, releasedAt } = await startOnHosts(ctx, plan, wanted, task, auth);
  // A host whose SSH is down may still run its instances: those that answer are running.
  const notStarted = [...reports.values()].filter((r) => r.status === 'failed');
  const instOf = (r: HostReport) => plan.instances.find((i) => addrOf(i) === r.addr)!;
  const answering = await Promise.all(notStarted.map((r) => serves(plan, instOf(r), auth, 2000)));
  const running = notStarted.filter((_, k) => answering[k]);
  for (const r of running) reports.set(r.addr, { ...r, status: 'running' });
  if (running.length) await step(ctx, task, `running, though their hosts could not be reached to start them: ${running.map((r) => `${r.addr} (${r.detail})`).join('; ')}`);
  const failed = notStarted.filter((_, k) => !answering[k]);
  // `show` must not go on saying they are up, whatever happens next.
  if (failed.length) await setInstanceStates(c, plan.cluster, new Map(failed.map((f) => [f.addr, { state: 'failed', error: `did not start: ${f.detail}` }])));
  let moved = 0;
  if (failed.length && task.move) {
    // No instance goes to a host this run could not reach.
    const unreachable = new Set(notStarted.map((r) => instOf(r).host));
    ({ plan, moved } = await moveInstances(ctx, task, plan, failed, unreachable, auth));
  } else if (failed.length) {
    throw new Error(`did not start: ${failed.map((f) => `${f.addr} (${f.detail})`).join('; ')} (a host lost for good: ovl cluster restart ${task.cluster} --move puts its instances on other hosts)`);
  }
  await repairRecords(ctx, task, plan, auth);
  plan = await finishJoins(ctx, task, plan, auth);
  // A master down longer than the node timeout is a replica now: its role back first.
  const back = await failBack(plan, { auth, timeoutMs: checkTimeout(plan), log: ctx.log });
  if (back.length) await step(ctx, task, `failed back: ${back.join(', ')} master again, as planned`);
  await step(ctx, task, 'consistency check');
  await settle(ctx, plan, auth, firstCheckAt(plan, reports, releasedAt));
  const count = (s: string) => [...reports.values()].filter((r) => r.status === s).length;
  await step(ctx, task, `restarted: ${count('started')} started, ${count('running')} were running${moved ? `, ${moved} moved to other hosts` : ''}${back.length ? `, ${back.length} failed back to master` : ''}`);
}

/**
 * Instances that did not start where they are and do not answer (`failed`), each put on another
 * host (restart --move) with a new identity; the old one is retired (stopped by a later restart
 * once its host answers). Every move is decided before the first is made, and none is made when
 * one would lose data: a plain Redis master (a new one would start empty and its replicas would
 * copy it), or a Redis Cluster instance whose shard has no master that answers (a lost master's
 * replica takes over after cluster-node-timeout). A moved Redis Cluster node is placed
 * `joining`: finishJoins makes it part of the cluster.
 */
async function moveInstances(ctx: TaskContext, task: RestartTask, plan: Plan, failed: HostReport[], unreachable: Set<string>, auth: ClusterAuth | undefined): Promise<{ plan: Plan; moved: number }> {
  const o = { auth, timeoutMs: checkTimeout(plan), log: ctx.log };
  const why = new Map(failed.map((f) => [f.addr, f.detail]));
  const lost = plan.instances.filter((i) => why.has(addrOf(i)));
  const live = plan.instances.filter((i) => !lost.includes(i) && !i.joining);
  const lostOne = (i: PlannedInstance) => `${addrOf(i)} (${i.host}) does not start (${why.get(addrOf(i))})`;
  for (const inst of lost) {
    if (plan.type === 'redis' && inst.role === 'master') {
      throw new Error(`${lostOne(inst)} and is the master of a plain Redis group: a new one would start empty and its replicas would copy it. Bring ${inst.host} back (ovl cluster restart ${plan.cluster}), or make a replica the master by hand. Nothing was moved`);
    }
    if (plan.type === 'redis_cluster' && !(await shardMaster(inst, live, o))) {
      throw new Error(`${lostOne(inst)} and no other member of its shard is a master that answers${inst.role === 'master' ? ' (a replica takes over after cluster-node-timeout: run restart --move again then)' : ''}: nothing holds its data. Nothing was moved`);
    }
  }
  // Where each goes, on the plan as it will be after the moves before it (a replica whose master
  // moved follows the master's new id).
  const { hosts } = await placeableCapacity(ctx);
  const need = instanceMemMB(plan.maxmemoryMB);
  let next = plan;
  const targets = lost.map((inst) => {
    const current = next.instances.find((i) => i.id === inst.id)!;
    const spot = relocation(next, current, hosts, unreachable);
    if (!spot) throw new Error(`${lostOne(inst)} and no other host can take it. Nothing was moved`);
    const to: PlannedInstance = { ...spot, id: newNodeId(), ...(plan.type === 'redis_cluster' ? { joining: true } : {}) };
    const h = hosts.find((x) => x.name === to.host)!;
    h.usedPorts.push(to.port);
    h.usedMemMB += need;
    next = swapInstance(next, current, to);
    return [current, to] as const;
  });

  for (const [from, to] of targets) {
    await step(ctx, task, `moving ${addrOf(from)} (${from.host}: ${why.get(addrOf(from))}) to ${addrOf(to)} (${to.host})`);
    const before = plan;
    plan = await allocate(`moving ${addrOf(from)}`, () => replaceInstance(ctx.etcd, before, from, to, { task: task.id }));
    await repairRecords(ctx, task, plan, auth);
    const r = await startOnHosts(ctx, plan, [to], task, auth);
    const report = r.reports.get(addrOf(to));
    if (report?.status !== 'started' && report?.status !== 'running') throw new Error(`${addrOf(to)} (${to.host}) did not start: ${report?.detail ?? 'no report'} (ovl cluster restart ${plan.cluster} --move again finishes the move)`);
  }
  await faultPoint(ctx, 'moved');
  return { plan, moved: lost.length };
}

/**
 * What restart --move leaves to do in a Redis Cluster, done by every restart until it is done
 * (a restart interrupted anywhere is finished by the next): the retired ids forgotten by every
 * node (a process that outlived a network cut must not come back under its old id; nodes that
 * do not answer are asked again next time), and each node placed `joining` meets the cluster and
 * replicates its shard's master (join.ts).
 */
async function finishJoins(ctx: TaskContext, task: RestartTask, plan: Plan, auth: ClusterAuth | undefined): Promise<Plan> {
  if (plan.type !== 'redis_cluster') return plan;
  const o = { auth, timeoutMs: checkTimeout(plan), log: ctx.log };
  const live = plan.instances.filter((i) => !i.joining);
  const forgotten: string[] = [];
  for (const r of (plan.retired ?? []).filter((x) => !x.forgotten)) {
    const missed = await forgetNode(live, r.id, o);
    if (missed.length) ctx.log(`${task.id}: ${r.id} (retired ${addrOf(r)}) is not forgotten yet by ${missed.join('; ')}: asked again by the next restart`);
    else forgotten.push(r.id);
  }
  if (forgotten.length) plan = await markForgotten(ctx.etcd, plan.cluster, forgotten);
  for (const j of plan.instances.filter((i) => i.joining)) {
    const master = await shardMaster(j, live, o);
    if (!master) throw new Error(`${addrOf(j)} (${j.host}) cannot join: no other member of its shard is a master that answers`);
    await step(ctx, task, `${addrOf(j)} (${j.host}) joins the cluster and replicates ${addrOf(master)}`);
    await joinShard(j, master, live, o);
    plan = await markJoined(ctx.etcd, plan.cluster, [j.id]);
    live.push(j);
  }
  return plan;
}


export const restartTask: TaskKindModule<RestartTask> = { run: runRestart };
