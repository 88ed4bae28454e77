// The zookeeper runbook's vars and inventory rules (zookeeper_client_port is a fleet-wide var of
// the loader, with its default).
import { oddMembers, type ComponentRules } from './rules.js';
import { absPath, text, whole, type VarSpecs } from './vars.js';

export const ZOOKEEPER_VARS: VarSpecs = {
  zookeeper_heap: text(/^[1-9][0-9]*[kmgKMG]$/, 'a JVM size like "256m" or "1g"', '"256m"'),
  zookeeper_java: absPath('/usr/bin/java'),
  zookeeper_tick_time: whole(100, 60_000, 2000),
  zookeeper_init_limit: whole(1, 1000, 10),
  zookeeper_sync_limit: whole(1, 1000, 5),
  zookeeper_max_client_cnxns: whole(0, 100_000, 60),
};

export const ZOOKEEPER_RULES: ComponentRules = {
  vars: ZOOKEEPER_VARS,
  members: oddMembers('ZooKeeper', 'zookeeper'),
  ports: ['zookeeper_client_port'],
};
