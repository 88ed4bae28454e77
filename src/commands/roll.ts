// `ovl cluster restart NAME --rolling` and `ovl cluster upgrade NAME --version V`: one roll task
// (tasks/roll.ts). What is asked is checked here (a usage error changes nothing); --check prints
// the order, shard by shard, and what it costs.
import { fleetCapacity } from '../cluster/capacity.js';
import { getPlan } from '../cluster/store.js';
import { describeRoll, outage, rollOrder, switchBlocked, versionProblem } from '../cluster/roll.js';
import { tasksOf, newTask, type RollTask } from '../cluster/task-store.js';
import type { Out } from '../ui/follow.js';
import { taskDone, warnWithoutScheduler, withState } from './cluster.js';
import { UsageError } from './errors.js';
import { NotFound } from '../api/errors.js';
import type { Etcd3 } from 'etcd3';

export interface RollOptions {
  inventory?: string;
  version?: string;
  yes?: boolean;
  check?: boolean;
  wait?: boolean;
}

/** A rolling restart (or, with a version, an upgrade) judged: its order and outage; `same` when
 * the cluster runs that version already. */
export async function planRoll(etcd: Etcd3, name: string, version: string | undefined) {
  const plan = await getPlan(etcd, name);
  if (!plan) throw new NotFound(`no cluster named ${name} (ovl cluster list)`);
  const what = version ? `upgrade of ${name} to ${version}` : `rolling restart of ${name}`;
  if (version !== undefined) {
    if (!/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/.test(version)) throw new UsageError(`--version ${JSON.stringify(version)}: a version is letters, digits and . + _ - (as under /data/lib/<type>/)`);
    if (version === plan.version && !plan.instances.some((i) => i.version)) return { plan, what, same: true as const };
    const why = versionProblem(plan, version, (await fleetCapacity(etcd)).hosts);
    if (why) throw new UsageError(`--version ${version}: ${why}`);
  }
  const order = rollOrder(plan);
  const blocked = switchBlocked(plan, order);
  if (blocked) throw new UsageError(`${what}: ${blocked}`);
  return { plan, what, order, cost: outage(plan, order), same: false as const };
}

/** Queue the roll (a failed one of the same version goes on where it stopped). */
export async function queueRoll(etcd: Etcd3, name: string, version: string | undefined, yes: boolean | undefined) {
  const last = (await tasksOf(etcd, name)).filter((t): t is RollTask => t.kind === 'roll').pop();
  const resume = last?.state === 'failed' && last.version === version && last.restarted?.length && last.masters ? { restarted: last.restarted, masters: last.masters } : {};
  const task = await newTask(etcd, 'roll', name, { ...(version ? { version } : {}), ...(yes ? { yes: true } : {}), ...resume });
  return { task, resumedFrom: resume.restarted ? { id: last!.id, restarted: resume.restarted.length } : undefined };
}

export async function clusterRoll(name: string, o: RollOptions, out: Out): Promise<number> {
  return withState(o.inventory, async (etcd, inv) => {
    const judged = await planRoll(etcd, name, o.version);
    const { plan, what } = judged;
    if (judged.same) {
      out(`nothing to do: ${name} runs ${plan.version} already`);
      return 0;
    }
    const { order, cost } = judged;
    if (o.check) {
      for (const line of describeRoll(plan, order, o.version)) out(line);
      out(cost ? `outage: ${cost} (needs --yes)` : 'no outage: never two members of a shard down; writes pause only during each switchover');
      return 0;
    }
    if (cost && !o.yes) throw new UsageError(`${what}: ${cost}; give --yes to accept that (--check shows the whole order)`);
    // The same roll asked again after one failed goes on from where that one stopped.
    const { task, resumedFrom } = await queueRoll(etcd, name, o.version, o.yes);
    out(`task ${task.id}: ${what}, ${plan.instances.length} instances one at a time${resumedFrom ? `; going on after task ${resumedFrom.id}, which restarted ${resumedFrom.restarted} before it failed` : ''}`);
    if (o.wait === false) {
      await warnWithoutScheduler(etcd, out);
      return 0;
    }
    const done = await taskDone(what, inv, etcd, task.id, out);
    if (!done) return 2;
    out(done.step);
    return 0;
  });
}
