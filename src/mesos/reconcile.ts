// What the framework does after RECONCILE, decided from what Mesos runs and what ovl holds. Pure.
import { addrOf, type ClusterConfig } from '../cluster/store.js';
import type { Plan } from '../cluster/types.js';
import { parseMesosTaskId } from './task-ids.js';

export interface Differences {
  /** Tasks of instances ovl does not have (a deleted cluster, a moved instance): [task id, agent id]. */
  kill: [string, string][];
  /** Instances of clusters created through Mesos that no task runs: [cluster, ip:port]. */
  relaunch: [string, string][];
}

/**
 * `live`: Mesos task id -> agent id, for every task of ours Mesos says is alive (but those being
 * killed). Clusters with an unfinished task are left to it; only settled clusters created through
 * Mesos are relaunched (one created over SSH is not adopted).
 */
export function differences(live: Map<string, string>, configs: ClusterConfig[], plans: Map<string, Plan>, busy: Set<string>): Differences {
  const out: Differences = { kill: [], relaunch: [] };
  const running = new Set<string>();
  for (const [id, agent] of live) {
    const p = parseMesosTaskId(id);
    if (!p || busy.has(p.cluster)) continue;
    running.add(`${p.cluster} ${p.addr}`);
    if (!plans.get(p.cluster)?.instances.some((i) => addrOf(i) === p.addr)) out.kill.push([id, agent]);
  }
  for (const cfg of configs) {
    const plan = plans.get(cfg.name);
    if (!plan || !cfg.mesos || busy.has(cfg.name) || cfg.state !== 'running') continue;
    for (const i of plan.instances) if (!running.has(`${cfg.name} ${addrOf(i)}`)) out.relaunch.push([cfg.name, addrOf(i)]);
  }
  return out;
}
