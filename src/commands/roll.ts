// `ovl cluster restart NAME --rolling` and `ovl cluster upgrade NAME --version V`: one roll task
// (tasks/roll.ts). What is asked is checked here (a usage error changes nothing); --check prints
// the order, shard by shard, and what it costs.
import { fleetCapacity, getPlan, listTasks, newTask, type RollTask } from '../cluster/store.js';
import { describeRoll, outage, rollOrder, switchBlocked, versionProblem } from '../cluster/roll.js';
import type { Out } from '../ui/follow.js';
import { taskDone, warnWithoutScheduler, withState } from './cluster.js';
import { UsageError } from './errors.js';

export interface RollOptions {
  inventory?: string;
  version?: string;
  yes?: boolean;
  check?: boolean;
  wait?: boolean;
}

export async function clusterRoll(name: string, o: RollOptions, out: Out): Promise<number> {
  return withState(o.inventory, async (etcd, inv) => {
    const plan = await getPlan(etcd, name);
    if (!plan) throw new UsageError(`no cluster named ${name} (ovl cluster list)`);
    const what = o.version ? `upgrade of ${name} to ${o.version}` : `rolling restart of ${name}`;
    if (o.version !== undefined) {
      if (!/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/.test(o.version)) throw new UsageError(`--version ${JSON.stringify(o.version)}: a version is letters, digits and . + _ - (as under /data/lib/<type>/)`);
      if (o.version === plan.version && !plan.instances.some((i) => i.version)) {
        out(`nothing to do: ${name} runs ${plan.version} already`);
        return 0;
      }
      const why = versionProblem(plan, o.version, (await fleetCapacity(etcd)).hosts);
      if (why) throw new UsageError(`--version ${o.version}: ${why}`);
    }
    const order = rollOrder(plan);
    const blocked = switchBlocked(plan, order);
    if (blocked) throw new UsageError(`${what}: ${blocked}`);
    const cost = outage(plan, order);
    if (o.check) {
      for (const line of describeRoll(plan, order, o.version)) out(line);
      out(cost ? `outage: ${cost} (needs --yes)` : 'no outage: never two members of a shard down; writes pause only during each switchover');
      return 0;
    }
    if (cost && !o.yes) throw new UsageError(`${what}: ${cost}; give --yes to accept that (--check shows the whole order)`);
    // The same roll asked again after one failed goes on from where that one stopped.
    const last = (await listTasks(etcd)).filter((t): t is RollTask => t.kind === 'roll' && t.cluster === name).pop();
    const resume = last?.state === 'failed' && last.version === o.version && last.restarted?.length && last.masters ? { restarted: last.restarted, masters: last.masters } : {};
    const task = await newTask(etcd, 'roll', name, { ...(o.version ? { version: o.version } : {}), ...(o.yes ? { yes: true } : {}), ...resume });
    out(`task ${task.id}: ${what}, ${plan.instances.length} instances one at a time${resume.restarted ? `; going on after task ${last!.id}, which restarted ${resume.restarted.length} before it failed` : ''}`);
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
