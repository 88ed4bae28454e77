// scheduler: where cluster instances get their resources (the fleet's hosts, or Mesos offers).
import { HOSTNAME_RE, IPV4_RE } from '../../shell.js';
import type { Inventory } from '../types.js';
import { isDict, q, validPort } from '../values.js';
import type { Checker } from './context.js';

export function checkScheduler(c: Checker): Inventory['scheduler'] {
  const sched = isDict(c.data.scheduler) ? c.data.scheduler : {};
  const resources = sched.resources === 'mesos' ? 'mesos' : 'fleet';
  const master = c.clean(['scheduler', 'mesos_master'], 'mesos_master');
  if (resources === 'mesos' && (sched.mesos_master === undefined || sched.mesos_master === null)) {
    c.add(['scheduler'], 'scheduler.resources is mesos but scheduler.mesos_master is not set', 'add mesos_master: "10.20.0.11:5050" (host:port of the Mesos master)');
  }
  if (master !== undefined) {
    const m = /^([^:]+):(\d{1,5})$/.exec(master);
    if (!m || !(IPV4_RE.test(m[1]!) || (HOSTNAME_RE.test(m[1]!) && !/^[0-9.]+$/.test(m[1]!))) || !validPort(Number(m[2]))) {
      c.add(['scheduler', 'mesos_master'], `scheduler.mesos_master ${q(master)} is not host:port`, 'write it as host:port, e.g. mesos_master: "10.20.0.11:5050"');
    }
  }
  return master !== undefined ? { resources, mesos_master: master } : { resources };
}
