// Every var a runbook declares, by component: what the inventory loader checks (src/inventory/load.ts).
import type { ComponentName } from '../components.js';
import { MESOS_AGENT_VARS, MESOS_MASTER_VARS, MESOS_SCHEDULER_VARS } from './mesos.js';
import type { VarSpecs } from './vars.js';
import { ZOOKEEPER_VARS } from './zookeeper.js';

export const COMPONENT_VARS: Record<ComponentName, VarSpecs> = {
  'data-layout': {},
  etcd: {},
  'cache-binaries': {},
  zookeeper: ZOOKEEPER_VARS,
  'mesos-master': MESOS_MASTER_VARS,
  'mesos-agent': MESOS_AGENT_VARS,
};

/** Every declared var by name (a var two components read has one rule), the scheduler's included. */
export const DECLARED_VARS: VarSpecs = Object.assign({}, MESOS_SCHEDULER_VARS, ...Object.values(COMPONENT_VARS));
