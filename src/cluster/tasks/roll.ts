// roll: a rolling restart (restart --rolling) or upgrade (upgrade --version), in the order roll.ts
// decides. Each instance restarted is recorded in the task, so the next leader goes on from
// there; each shard ends with its planned master back and its files written from the plan.
import { checkCluster, serves } from '../check.js';
import { untilReady } from '../readiness.js';
import { cannotPromote, promote } from '../roles.js';
import { allOn, outage, rollOrder, versionProblem, withVersion } from '../roll.js';
import { addrOf, changePlan, fleetCapacity, getPlan, getSecret, putTask, updateConfig, type ConfigTask, type RollTask } from '../store.js';
import { liveMaster, switchover, waitInSync, type SwitchoverOptions } from '../switchover.js';
import type { Plan, PlannedInstance } from '../types.js';
import { checkTimeout, faultPoint, formatProblems, step, type TaskContext } from './context.js';
import { settle } from './health.js';
import { repairRecords, rewriteFiles, startOnHosts, stopOnHosts } from './instances.js';
import type { TaskKindModule } from './registry.js';

async function runRoll(ctx: TaskContext, task: RollTask): Promise<void> {
  const { total } = await rollCluster(ctx, task, task.version);
  await step(ctx, task, `${task.version ? `upgraded to ${task.version}` : 'restarted'}: ${total} instances, one at a time${task.pauseMs !== undefined ? `; writes paused at most ${task.pauseMs} ms by a switchover` : ''}`);
}

/**
 * Restart every instance of the cluster in roll order (onto `version` when given), then check it.
 * Serves `restart --rolling`, `upgrade` and the settings `config` cannot change live.
 */
export async function rollCluster(ctx: TaskContext, task: RollTask | ConfigTask, version?: string): Promise<{ total: number }> {
  const c = ctx.etcd;
  let plan = await getPlan(c, task.cluster);
  if (!plan) throw new Error(`no cluster named ${task.cluster}`);
  const password = await getSecret(c, task.cluster);
  const to = version ?? plan.version;
  const o: SwitchoverOptions = { password, timeoutMs: checkTimeout(plan), log: (l) => ctx.log(`${task.id}: ${l}`) };
  const done = new Set(task.restarted ?? []);
  const order = rollOrder(plan);
  const inPlace = outage(plan, order);
  if (inPlace && !task.yes) throw new Error(`${inPlace}; nothing was restarted (give --yes to accept that)`);
  const blocked = order.flatMap((s) => (s.replicas[0] ? [cannotPromote(plan!, s.replicas[0])] : [])).find(Boolean);
  if (blocked) throw new Error(`${blocked}; nothing was restarted`);
  if (task.restarted === undefined) {
    // Before anything restarts: the version is on every host, and every member is up (a roll
    // over a member that is down would take its shard's last copy down).
    if (version && version !== plan.version) {
      const why = versionProblem(plan, version, (await fleetCapacity(c)).hosts);
      if (why) throw new Error(`${why}; nothing was restarted`);
    }
    const report = await checkCluster(plan, { password });
    if (!report.healthy) throw new Error(`${plan.cluster} is not healthy, so nothing was restarted: ${formatProblems(report)} (ovl cluster restart ${plan.cluster} first)`);
    // From here on the roll is under way: a resumed run does not ask for a healthy cluster.
    task.restarted = [];
    await putTask(c, task);
  }
  const total = plan.instances.length;
  const shardOf = (i: PlannedInstance) => plan!.instances.filter((x) => x.shard === i.shard);

  /** Stop and start one instance (rendered from `view`: the plan, or the plan as the shard is
   * now while a replica stands in) on the version it should run, and wait until it serves. */
  const restartOne = async (inst: PlannedInstance, view: (p: Plan) => Plan, masterNow?: PlannedInstance) => {
    await step(ctx, task, `restarting ${addrOf(inst)} (${inst.host}${inst.role === 'replica' || masterNow ? ', replica' : ''})${to !== plan!.version ? ` on ${to}` : ''}: ${done.size + 1} of ${total}`);
    if ((inst.version ?? plan!.version) !== to) plan = await changePlan(c, task.cluster, `${addrOf(inst)} on ${to}`, async (p) => ({ next: withVersion(p, inst.id, to) }));
    const rendered = view(plan!);
    const cur = rendered.instances.find((i) => i.id === inst.id)!;
    await stopOnHosts(ctx, rendered, [cur], false);
    await faultPoint(ctx, 'roll-stopped');
    const { reports } = await startOnHosts(ctx, rendered, [cur], task, password);
    const r = reports.get(addrOf(cur));
    if (r?.status !== 'started' && r?.status !== 'running') throw new Error(`${addrOf(cur)} (${cur.host}) did not start: ${r?.detail ?? 'no report'}; the roll stopped there (ovl cluster restart ${plan!.cluster} brings it back, the same command again goes on)`);
    if (masterNow) await waitInSync(cur, masterNow, o);
    else if (plan!.type === 'redis_cluster') {
      if (await untilReady({ ...rendered, instances: [cur] }, { password, deadline: Date.now() + o.timeoutMs })) throw new Error(`${addrOf(cur)} does not say cluster_state:ok after its restart`);
    } else {
      const deadline = Date.now() + o.timeoutMs;
      while (!(await serves(rendered, cur, password, 2000))) {
        if (Date.now() > deadline) throw new Error(`${addrOf(cur)} does not answer after its restart`);
        await new Promise((res) => setTimeout(res, 200));
      }
    }
    done.add(inst.id);
    task.restarted = [...done];
    await putTask(c, task);
  };
  const switchTo = async (replica: PlannedInstance, master: PlannedInstance) => {
    await step(ctx, task, `switching shard ${replica.shard} to ${addrOf(replica)} (${replica.host})`);
    const r = await switchover(plan!, replica, master, o);
    if (!r.already) task.pauseMs = Math.max(task.pauseMs ?? 0, r.pauseMs);
  };

  for (const s of order) {
    const master = () => plan!.instances.find((i) => i.id === s.master.id)!;
    if (s.inPlace) {
      if (!done.has(s.master.id)) await restartOne(master(), (p) => p);
      continue;
    }
    for (const r of s.replicas) {
      if (done.has(r.id)) continue;
      const now = (await liveMaster(shardOf(master()), o)) ?? master();
      await restartOne(plan.instances.find((i) => i.id === r.id)!, (p) => (now.id === s.master.id ? p : promote(p, now.id)), now);
    }
    if (!done.has(s.master.id)) {
      let now = await liveMaster(shardOf(master()), o);
      if (!now || now.id === s.master.id) {
        const stand = plan.instances.find((i) => i.id === s.replicas[0]!.id)!;
        await switchTo(stand, master());
        now = stand;
      }
      const standIn = now;
      await restartOne(master(), (p) => promote(p, standIn.id), standIn);
    }
    const now = await liveMaster(shardOf(master()), o);
    if (now && now.id !== s.master.id) await switchTo(master(), now);
    await rewriteFiles(ctx, plan, shardOf(master()), task, password);
    await repairRecords(ctx, task, plan, password);
  }
  if (version && plan.version !== version) {
    plan = await changePlan(c, task.cluster, `upgrade to ${version}`, async (p) => ({ next: allOn(p, version) }));
    await updateConfig(c, task.cluster, { version });
    await repairRecords(ctx, task, plan, password);
  }
  await step(ctx, task, `consistency check of ${plan.instances.length} instances`);
  await settle(ctx, plan, password);
  return { total };
}

export const rollTask: TaskKindModule<RollTask> = { run: runRoll };
