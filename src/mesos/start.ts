// The Mesos framework of an inventory with `scheduler.resources: mesos`, from its settings.
import type { Etcd3 } from 'etcd3';
import { MESOS_SCHEDULER_VARS } from '../../runbooks/settings/mesos.js';
import { varProblem } from '../../runbooks/settings/vars.js';
import type { Inventory } from '../inventory/types.js';
import { MesosFramework } from './framework.js';
import { parseMasterSpec } from './leader.js';

/**
 * The framework of an inventory with `scheduler.resources: mesos`, subscribed. Optional var:
 * `mesos_task_cpus` (CPUs per instance, default 0.1), `mesos_max_starting_per_agent` (default 4).
 */
export async function startFramework(inv: Inventory, etcd: Etcd3, log: (line: string) => void): Promise<MesosFramework> {
  const master = inv.scheduler.mesos_master;
  if (!master) throw new Error(`${inv.file}: scheduler.resources is mesos but scheduler.mesos_master is not set`);
  const spec = parseMasterSpec(master);
  if ('problem' in spec) throw new Error(`${inv.file}: scheduler.mesos_master ${spec.problem}`);
  // Checked by the inventory loader already; read through the same declared rules.
  const setting = (name: string) => {
    const v = inv.vars[name];
    const problem = v === undefined ? undefined : varProblem(MESOS_SCHEDULER_VARS[name]!, v);
    if (problem) throw new Error(`${inv.file}: vars.${name} ${problem}`);
    return v;
  };
  const cpus = setting('mesos_task_cpus');
  const starting = setting('mesos_max_starting_per_agent');
  const fw = new MesosFramework({
    etcd,
    master: spec,
    hosts: inv.hosts.map((h) => ({ name: h.name, address: h.address })),
    log,
    taskCpus: cpus as number | undefined,
    maxStartingPerAgent: starting as number | undefined,
  });
  await fw.start();
  return fw;
}
