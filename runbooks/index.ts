import type { AnyRunbook } from '../src/engine/runbook.js';
import type { ComponentName } from './components.js';
import { cacheBinaries } from './cache-binaries.js';
import { dataLayout } from './data-layout.js';
import { etcd } from './etcd.js';
import { mesosAgent } from './mesos-agent.js';
import { mesosMaster } from './mesos-master.js';
import { zookeeper } from './zookeeper.js';
import { nodeExporter } from './node-exporter.js';
import { alertmanager } from './alertmanager.js';
import { prometheus } from './prometheus.js';
import { redisExporter } from './redis-exporter.js';

/** Every component an inventory may list (COMPONENTS), by name. */
export const RUNBOOKS: Record<string, AnyRunbook> = {
  'data-layout': dataLayout,
  etcd,
  'cache-binaries': cacheBinaries,
  zookeeper,
  'mesos-master': mesosMaster,
  'mesos-agent': mesosAgent,
  'node-exporter': nodeExporter,
  'redis-exporter': redisExporter,
  alertmanager,
  prometheus,
} satisfies Record<ComponentName, AnyRunbook>;
