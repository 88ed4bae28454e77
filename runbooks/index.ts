import type { AnyRunbook } from '../src/engine/runbook.js';
import { cacheBinaries } from './cache-binaries.js';
import { dataLayout } from './data-layout.js';
import { etcd } from './etcd.js';
import { mesosAgent } from './mesos-agent.js';
import { mesosMaster } from './mesos-master.js';
import { zookeeper } from './zookeeper.js';

/** Every component an inventory may list, by name. */
export const RUNBOOKS: Record<string, AnyRunbook> = {
  [dataLayout.name]: dataLayout,
  [etcd.name]: etcd,
  [cacheBinaries.name]: cacheBinaries,
  [zookeeper.name]: zookeeper,
  [mesosMaster.name]: mesosMaster,
  [mesosAgent.name]: mesosAgent,
};
