/**
 * The components an inventory may list, by name: what inventory validation needs, without
 * loading every runbook (and the operations and templates behind them) for commands that run
 * none, such as `ovl cluster`. runbooks/index.ts maps each name to its runbook.
 */
export const COMPONENTS = ['data-layout', 'etcd', 'cache-binaries', 'zookeeper', 'mesos-master', 'mesos-agent', 'node-exporter', 'redis-exporter', 'alertmanager', 'prometheus'] as const;
export type ComponentName = (typeof COMPONENTS)[number];
