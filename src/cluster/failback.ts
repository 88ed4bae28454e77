// A Redis Cluster master that was down longer than cluster-node-timeout comes back as a replica
// of the replica that took its slots over. `restart` gives the planned masters their role back
// with a coordinated CLUSTER FAILOVER sent to each of them: the plan's placement (masters spread
// evenly, each host's replicas spread over the other hosts) holds for the planned roles only,
// and the consistency check compares the cluster with the plan.
import { setTimeout as sleep } from 'node:timers/promises';
import { adminClient, ownLineSaysMaster, roleOf, withAdmin } from './admin.js';
import { addrOf } from './store.js';
import type { Plan, PlannedInstance } from './types.js';
import type { ClusterAuth } from './auth.js';

/** Redis gives a manual failover 5 s (CLUSTER_MF_TIMEOUT); a little more before asking again. */
const MANUAL_FAILOVER_MS = 6000;

export interface FailBackOptions {
  auth?: ClusterAuth;
  /** Give up waiting for a node after this long, ms. */
  timeoutMs: number;
  log?: (line: string) => void;
}

/**
 * Planned masters whose shard failed over to one of their replicas get their role back. Returns
 * them; a node that does not answer, or a master that does not come back as a replica of its
 * shard, is left to the consistency check to report.
 */
export async function failBack(plan: Plan, o: FailBackOptions): Promise<string[]> {
  if (plan.type !== 'redis_cluster') return [];
  const back: string[] = [];
  await Promise.all(
    plan.instances
      .filter((i) => i.role === 'master')
      .map(async (m) => {
        const replicas = plan.instances.filter((i) => i.shard === m.shard && i.id !== m.id);
        if ((await anyPromoted(replicas, o)) && (await takeBack(m, replicas, o))) back.push(addrOf(m));
      }),
  );
  return back;
}

async function saysMaster(i: PlannedInstance, o: FailBackOptions): Promise<boolean> {
  return withAdmin(i, o, ownLineSaysMaster).catch(() => false);
}

async function anyPromoted(replicas: PlannedInstance[], o: FailBackOptions): Promise<boolean> {
  return (await Promise.all(replicas.map((r) => saysMaster(r, o)))).some(Boolean);
}

/** Once the planned master replicates its shard's new master with the link up, a coordinated
 * CLUSTER FAILOVER on it; then wait until it says master again. */
async function takeBack(master: PlannedInstance, replicas: PlannedInstance[], o: FailBackOptions): Promise<boolean> {
  const shard = new Set(replicas.map(addrOf));
  const c = adminClient(master, o);
  const deadline = Date.now() + o.timeoutMs;
  let askedAt = 0;
  try {
    await c.connect();
    while (Date.now() < deadline) {
      if (askedAt && (await ownLineSaysMaster(c))) return true;
      const role = await roleOf(c);
      // Asked again once a manual failover has timed out (5 s in Redis): the master ignores one
      // from a node it does not yet know as its replica (a node that has just joined).
      if (Date.now() - askedAt > MANUAL_FAILOVER_MS && role[0] === 'slave' && shard.has(`${role[1]}:${role[2]}`) && role[3] === 'connected') {
        o.log?.(`${addrOf(master)} replicates ${role[1]}:${role[2]} since a failover: CLUSTER FAILOVER to take its planned master role back`);
        await c.call('CLUSTER', 'FAILOVER');
        askedAt = Date.now();
      }
      await sleep(200);
    }
    return false;
  } catch {
    return false;
  } finally {
    c.disconnect();
  }
}
