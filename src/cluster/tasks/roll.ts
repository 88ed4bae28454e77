// roll: a rolling restart (restart --rolling) or upgrade (upgrade --version), in the order roll.ts
// decides. Each instance restarted is recorded in the task, so the next leader goes on from
// there; each shard ends with its planned master back and its files written from the plan.
import { pollUntil } from '../../ops/wait.js';
import { fleetCapacity } from '../capacity.js';
import { checkCluster, serves } from '../check.js';
import { untilReady } from '../readiness.js';
import { promote, shardMasterOf } from '../roles.js';
import { allOn, outage, rollOrder, switchBlocked, versionProblem, withVersion } from '../roll.js';
import { addrOf, changePlan, getPlan, getSecret, updateConfig } from '../store.js';
import { liveMaster, switchover, waitInSync, type SwitchoverOptions } from '../switchover.js';
import { putTask, type ConfigTask, type RollTask } from '../task-store.js';
import type { PlannedInstance } from '../types.js';
import { checkTimeout, faultPoint, step, type TaskContext } from './context.js';
import { settle } from './health.js';
import { repairRecords, rewriteFiles, startOnHosts, stopOnHosts } from './instances.js';
import type { TaskKindModule } from './registry.js';

async function runRoll(ctx: TaskContext, task: RollTask): Promise<void> {
  const { total } = await rollCluster(ctx, task, task.version);
  await step(ctx, task, `${task.version ? `upgraded to ${task.version}` : 'restarted'}: ${total} instances, one at a time${task.pauseMs !== undefined ? `; writes paused at most ${task.pauseMs} ms by a switchover` : ''}`);
}

/**
 * Restart every instance of the cluster in roll order (onto `version` when given; otherwise each
 * stays on the version it runs), then check it. Serves `restart --rolling`, `upgrade` and the
 * settings `config` cannot change live. The plan says who is master at every moment: each
 * switchover is recorded (and the shard's files written) before anything else happens.
 */
export async function rollCluster(ctx: TaskContext, task: RollTask | ConfigTask, version?: string): Promise<{ total: number }> {
  const c = ctx.etcd;
  const found = await getPlan(c, task.cluster);
  if (!found) throw new Error(`no cluster named ${task.cluster}`);
  let plan = found;
  const auth = await getSecret(c, task.cluster);
  const o: SwitchoverOptions = { auth, timeoutMs: checkTimeout(plan), log: (l) => ctx.log(`${task.id}: ${l}`) };
  const done = new Set(task.restarted ?? []);
  if (task.restarted === undefined) {
    const order = rollOrder(plan);
    const inPlace = outage(plan, order);
    if (inPlace && !task.yes) throw new Error(`${inPlace}; nothing was restarted (give --yes to accept that)`);
    const blocked = switchBlocked(plan, order);
    if (blocked) throw new Error(`${blocked}; nothing was restarted`);
    // Before anything restarts: the version is on every host, and every member is up (a roll
    // over a member that is down would take its shard's last copy down). An instance on
    // another version than the plan says is what a roll repairs, not a reason to refuse.
    if (version) {
      const why = versionProblem(plan, version, (await fleetCapacity(c)).hosts);
      if (why) throw new Error(`${why}; nothing was restarted`);
    }
    const report = await checkCluster(plan, { auth });
    const problems = report.problems.filter((x) => !VERSION_MIX.test(x));
    if (problems.length) throw new Error(`${plan.cluster} is not healthy, so nothing was restarted: ${problems.slice(0, 20).join('; ')} (ovl cluster restart ${plan.cluster} first)`);
    // The layout the roll restores, and from here on a roll under way: a resumed run goes on.
    task.masters = Object.fromEntries(order.map((s) => [String(s.shard), s.master.id]));
    task.restarted = [];
    await putTask(c, task);
  }
  const order = rollOrder(plan, task.masters);
  const total = plan.instances.length;
  const byId = (id: string) => plan.instances.find((i) => i.id === id)!;
  const members = (shard: number) => plan.instances.filter((x) => x.shard === shard);

  /** The member that says it is master now, once one does (a switch under way settles first). */
  const masterNow = async (shard: number): Promise<PlannedInstance> => {
    let m: PlannedInstance | undefined;
    await pollUntil(async () => !!(m = await liveMaster(members(shard), o)), o.timeoutMs, `a member of shard ${shard} to say it is master (ovl cluster check ${plan.cluster}); the roll stopped`, 200);
    return m!;
  };
  /** The plan names `m` as its shard's master (a switch made, perhaps by an earlier run), and the
   * shard's files and records say so. */
  const record = async (m: PlannedInstance) => {
    if (shardMasterOf(plan, m)?.id === m.id) return;
    plan = await changePlan(c, task.cluster, `${addrOf(m)} master of shard ${m.shard}`, async (p) => ({ next: promote(p, m.id) }));
    await rewriteFiles(ctx, plan, members(m.shard), task, auth);
    await repairRecords(ctx, task, plan, auth);
  };
  const switchTo = async (replica: PlannedInstance, master: PlannedInstance) => {
    await step(ctx, task, `switching shard ${replica.shard} to ${addrOf(replica)} (${replica.host})`);
    const r = await switchover(plan, replica, master, o);
    if (!r.already) task.pauseMs = Math.max(task.pauseMs ?? 0, r.pauseMs);
    await faultPoint(ctx, 'roll-switched');
    await record(byId(replica.id));
  };
  /** Every other member of the shard answers: stopping `inst` leaves its data somewhere. */
  const othersUp = async (inst: PlannedInstance) => {
    const others = members(inst.shard).filter((i) => i.id !== inst.id);
    const up = await Promise.all(others.map((i) => serves(plan, i, auth, 2000)));
    const down = others.filter((_, k) => !up[k]);
    if (down.length) throw new Error(`${down.map(addrOf).join(', ')} of shard ${inst.shard} does not answer: ${addrOf(inst)} is not stopped (the roll stopped; ovl cluster restart ${plan.cluster}, then the same command again)`);
  };

  /** Stop and start one instance on the version it should run, and wait until it serves (a
   * replica: synced again with `master`). */
  const restartOne = async (inst: PlannedInstance, master?: PlannedInstance) => {
    const to = version ?? inst.version ?? plan.version;
    await step(ctx, task, `restarting ${addrOf(inst)} (${inst.host}${master ? ', replica' : ''})${version ? ` on ${version}` : ''}: ${done.size + 1} of ${total}`);
    if ((inst.version ?? plan.version) !== to) plan = await changePlan(c, task.cluster, `${addrOf(inst)} on ${to}`, async (p) => ({ next: withVersion(p, inst.id, to) }));
    const cur = byId(inst.id);
    await stopOnHosts(ctx, plan, [cur], false);
    await faultPoint(ctx, 'roll-stopped');
    const { reports } = await startOnHosts(ctx, plan, [cur], task, auth);
    const r = reports.get(addrOf(cur));
    if (r?.status !== 'started' && r?.status !== 'running') throw new Error(`${addrOf(cur)} (${cur.host}) did not start: ${r?.detail ?? 'no report'}; the roll stopped there (ovl cluster restart ${plan.cluster} brings it back, the same command again goes on)`);
    if (master) await waitInSync(cur, master, o);
    else if (plan.type === 'redis_cluster') {
      if (await untilReady({ ...plan, instances: [cur] }, { auth, deadline: Date.now() + o.timeoutMs })) throw new Error(`${addrOf(cur)} does not say cluster_state:ok after its restart`);
    } else {
      await pollUntil(() => serves(plan, cur, auth, 2000), o.timeoutMs, `${addrOf(cur)} to answer after its restart`, 200);
    }
    done.add(inst.id);
    task.restarted = [...done];
    await putTask(c, task);
  };

  for (const s of order) {
    if (s.inPlace) {
      if (!done.has(s.master.id)) await restartOne(byId(s.master.id));
      continue;
    }
    for (const r of s.replicas) {
      if (done.has(r.id)) continue;
      const now = await masterNow(s.shard);
      await record(now);
      if (now.id === r.id) throw new Error(`${addrOf(r)} is the master of shard ${s.shard} now, not a replica (a failover the roll did not make): the roll stopped; ovl cluster check ${plan.cluster}`);
      await othersUp(byId(r.id));
      await restartOne(byId(r.id), now);
    }
    if (!done.has(s.master.id)) {
      let now = await masterNow(s.shard);
      await record(now);
      if (now.id === s.master.id) {
        const stand = byId(s.replicas[0]!.id);
        await switchTo(stand, byId(s.master.id));
        now = stand;
      }
      await othersUp(byId(s.master.id));
      await restartOne(byId(s.master.id), now);
    }
    const now = await masterNow(s.shard);
    await record(now);
    if (now.id !== s.master.id) await switchTo(byId(s.master.id), now);
    await rewriteFiles(ctx, plan, members(s.shard), task, auth);
    await repairRecords(ctx, task, plan, auth);
  }
  if (version) {
    if (plan.version !== version || plan.instances.some((i) => i.version)) plan = await changePlan(c, task.cluster, `upgrade to ${version}`, async (p) => ({ next: allOn(p, version) }));
    await updateConfig(c, task.cluster, { version });
    await repairRecords(ctx, task, plan, auth);
  }
  await step(ctx, task, `consistency check of ${plan.instances.length} instances`);
  await settle(ctx, plan, auth);
  return { total };
}

/** A check's problem that only says an instance runs another version than the plan names. */
const VERSION_MIX = /\bruns (redis|memcached) \S+, the plan says \S+$/;

export const rollTask: TaskKindModule<RollTask> = { run: runRoll };
