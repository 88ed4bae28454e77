// The etcd key layout (seed 001), one place for every key ovl reads or writes.
export const ROOT = '/overlord';

/** What bootstrap registers for the scheduler: a cache host's capacity. */
export interface HostCapacityRecord {
  host: string;
  address: string;
  cpu: number;
  memMB: number;
  ports: { from: number; to: number };
  /** Cache type -> versions present under /data/lib/<type>/. */
  versions: Record<string, string[]>;
}

export const capacityPrefix = `${ROOT}/fleet/hosts/`;
export const capacityKey = (host: string) => `${capacityPrefix}${host}`;

// Clusters (seed 001): /overlord/clusters/<cluster>/instances/<ip:port>/{info,server.conf,nodes.conf},
// /overlord/config/<cluster>, /overlord/task/<task>. ovl adds the plan, the per-host port
// allocations that make concurrent creates safe, and secrets kept apart from everything shown.
export const clusterPrefix = (cluster: string) => `${ROOT}/clusters/${cluster}/`;
export const planKey = (cluster: string) => `${ROOT}/clusters/${cluster}/plan`;
export const instancePrefix = (cluster: string, addr: string) => `${ROOT}/clusters/${cluster}/instances/${addr}/`;
export const instanceKey = (cluster: string, addr: string, leaf: 'info' | 'server.conf' | 'nodes.conf') => `${instancePrefix(cluster, addr)}${leaf}`;
export const configPrefix = `${ROOT}/config/`;
export const configKey = (cluster: string) => `${configPrefix}${cluster}`;
export const taskPrefix = `${ROOT}/task/`;
export const taskKey = (id: string) => `${taskPrefix}${id}`;
/** A task not ended yet (value: its cluster): what the scheduler reads on every wake-up, a few
 * keys however many finished tasks the fleet keeps. Removed with the task's last write. */
export const queuePrefix = `${ROOT}/queue/`;
export const queueKey = (id: string) => `${queuePrefix}${id}`;
/** The tasks of one cluster (value: the kind), finished ones included: its history without
 * reading every task of the fleet. Outside the cluster's prefix, which its delete removes. */
export const clusterTasksRoot = `${ROOT}/tasks-of/`;
export const clusterTasksPrefix = (cluster: string) => `${clusterTasksRoot}${cluster}/`;
export const clusterTaskKey = (cluster: string, id: string) => `${clusterTasksPrefix(cluster)}${id}`;
export const allocPrefix = `${ROOT}/alloc/`;
export const allocKey = (host: string) => `${allocPrefix}${host}`;
export const secretKey = (cluster: string) => `${ROOT}/secrets/${cluster}`;
export const ELECTION = 'ovl-scheduler';
/** The last consistency check of a cluster (`ovl cluster check`, the scheduler's own): what its
 * /metrics says of the cluster. */
export const checkPrefix = `${ROOT}/checks/`;
export const checkKey = (cluster: string) => `${checkPrefix}${cluster}`;
/** A running scheduler's /metrics address, held by its lease: Prometheus's ovl targets. */
export const schedulerPrefix = `${ROOT}/schedulers/`;
export const schedulerKey = (address: string) => `${schedulerPrefix}${address}`;
/** The slot moves of a scale or rebalance and each one's progress (tasks/reshape.ts). */
export const migrationKey = (cluster: string) => `${ROOT}/clusters/${cluster}/migration`;
