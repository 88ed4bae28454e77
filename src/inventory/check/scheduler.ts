// scheduler: where cluster instances get their resources (the fleet's hosts, or Mesos offers).
import { parseMasterSpec } from '../../mesos/leader.js';
import type { Inventory } from '../types.js';
import { isDict, q } from '../values.js';
import type { Checker } from './context.js';

const FORMS = 'mesos_master: "zk://10.20.0.11:2181,10.20.0.12:2181,10.20.0.13:2181/mesos" (the masters\' ZooKeeper, as the daemons take it) or "10.20.0.11:5050,10.20.0.12:5050" (masters tried in turn)';

export function checkScheduler(c: Checker): Inventory['scheduler'] {
  const sched = isDict(c.data.scheduler) ? c.data.scheduler : {};
  const resources = sched.resources === 'mesos' ? 'mesos' : 'fleet';
  const master = c.clean(['scheduler', 'mesos_master'], 'mesos_master');
  if (resources === 'mesos' && (sched.mesos_master === undefined || sched.mesos_master === null)) {
    c.add(['scheduler'], 'scheduler.resources is mesos but scheduler.mesos_master is not set', `add ${FORMS}`);
  }
  if (master !== undefined) {
    const spec = parseMasterSpec(master);
    if ('problem' in spec) c.add(['scheduler', 'mesos_master'], `scheduler.mesos_master ${q(master)}: ${spec.problem}`, `write ${FORMS}`);
  }
  return master !== undefined ? { resources, mesos_master: master } : { resources };
}
