// Every component's inventory rules and declared vars: what the inventory loader checks
// (src/inventory/check/).
import type { ArtifactType } from '../../src/inventory/types.js';
import type { ComponentName } from '../components.js';
import { CACHE_BINARIES_RULES } from './cache-binaries.js';
import { ETCD_RULES } from './etcd.js';
import { MESOS_AGENT_RULES, MESOS_MASTER_RULES, MESOS_SCHEDULER_VARS } from './mesos.js';
import { ALERTMANAGER_RULES, NODE_EXPORTER_RULES, PROMETHEUS_RULES, REDIS_EXPORTER_RULES } from './monitoring.js';
import type { ComponentRules } from './rules.js';
import type { VarSpecs } from './vars.js';
import { ZOOKEEPER_RULES } from './zookeeper.js';

export const COMPONENT_RULES: Record<ComponentName, ComponentRules> = {
  'data-layout': { vars: {} },
  etcd: ETCD_RULES,
  'cache-binaries': CACHE_BINARIES_RULES,
  zookeeper: ZOOKEEPER_RULES,
  'mesos-master': MESOS_MASTER_RULES,
  'mesos-agent': MESOS_AGENT_RULES,
  'node-exporter': NODE_EXPORTER_RULES,
  'redis-exporter': REDIS_EXPORTER_RULES,
  alertmanager: ALERTMANAGER_RULES,
  prometheus: PROMETHEUS_RULES,
};

/** Every declared var by name (a var two components read has one rule), the scheduler's included. */
export const DECLARED_VARS: VarSpecs = Object.assign({}, MESOS_SCHEDULER_VARS, ...Object.values(COMPONENT_RULES).map((r) => r.vars));

/** The binary an artifact of each type must provide, from every component's rules. */
export const REQUIRED_BINARIES: Partial<Record<ArtifactType, string>> = Object.assign({}, ...Object.values(COMPONENT_RULES).map((r) => r.binaries ?? {}));
