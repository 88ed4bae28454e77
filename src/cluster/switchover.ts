// A planned switchover: a replica takes its shard over from a master that is up, with no write
// lost. Redis Cluster: CLUSTER FAILOVER (not FORCE) on the replica, which pauses the master's
// clients, waits for the replica to have every write and then takes the slots. Plain Redis:
// FAILOVER TO the replica on the master (6.2+), which does the same for a master and its
// replicas; the group's other replicas are then repointed.
//
// Each step can be asked again: a switchover that finds the replica already the master with the
// old master replicating it only waits for the rest to agree.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { adminClient, nodesSeenBy, ownLineSaysMaster, roleOf, withAdmin } from './admin.js';
import { addrOf } from './store.js';
import type { Plan, PlannedInstance } from './types.js';
import type { ClusterAuth } from './auth.js';

export interface SwitchoverOptions {
  auth?: ClusterAuth;
  /** Give up on a step after this long, ms. */
  timeoutMs: number;
  log?: (line: string) => void;
}

export interface SwitchoverResult {
  /** The replica was the master already (a resumed task). */
  already: boolean;
  /** How long the master's writes were held, ms (from the switch asked to the new master taking writes). */
  pauseMs: number;
}

/** Redis gives a manual failover 5 s (CLUSTER_MF_TIMEOUT); a little more before asking again. */
const MANUAL_FAILOVER_MS = 6000;
/** How close a replica must be to its master before the switch: the pause lasts this catch-up. */
const CAUGHT_UP_BYTES = 64 << 10;

type Role = [string, string?, number?, string?, number?];

const role = async (c: Redis) => (await roleOf(c)) as Role;
const replicates = (r: Role, m: PlannedInstance) => r[0] === 'slave' && `${r[1]}:${r[2]}` === addrOf(m);
async function masterOffset(c: Redis): Promise<number> {
  const r = (await c.call('ROLE')) as unknown[];
  if (r[0] !== 'master') throw new Error(`asked for a master's offset, but it says ROLE ${r.slice(0, 3).join(' ')}`);
  return Number(r[1]);
}

async function open(i: PlannedInstance, o: SwitchoverOptions, what: string): Promise<Redis> {
  const c = adminClient(i, { auth: o.auth });
  try {
    await c.connect();
    await c.ping();
    return c;
  } catch (e) {
    c.disconnect();
    throw new Error(`${addrOf(i)} (${i.host}, ${what}) does not answer (${(e as Error).message}): nothing was changed`);
  }
}

async function until<T>(what: string, o: SwitchoverOptions, probe: () => Promise<T | undefined>, everyMs = 50): Promise<T> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${Math.round(o.timeoutMs / 1000)} s`);
    await sleep(everyMs);
  }
}

/** The replica is linked to `master` and within CAUGHT_UP_BYTES of where the master was when asked. */
async function catchUp(rc: Redis, mc: Redis, replica: PlannedInstance, master: PlannedInstance, o: SwitchoverOptions): Promise<void> {
  const r = await role(rc);
  if (!replicates(r, master) || r[3] !== 'connected') {
    throw new Error(`${addrOf(replica)} is not replicating ${addrOf(master)} with its link up (ROLE: ${r.slice(0, 4).join(' ')}): promoting it could lose writes; nothing was changed`);
  }
  const target = await masterOffset(mc);
  await until(`${addrOf(replica)} catching up with ${addrOf(master)}`, o, async () => ((await role(rc))[4] ?? 0) >= target - CAUGHT_UP_BYTES || undefined);
}

/**
 * Redis Cluster: `replica` takes over from `master`. Done when the replica says it is a master,
 * every node of `members` that answers sees it so, and the old master replicates it.
 */
export async function clusterSwitchover(replica: PlannedInstance, master: PlannedInstance, members: PlannedInstance[], o: SwitchoverOptions): Promise<SwitchoverResult> {
  const rc = await open(replica, o, 'the replica to promote');
  let mc: Redis | undefined;
  try {
    let already = await ownLineSaysMaster(rc);
    let pauseMs = 0;
    if (!already) {
      mc = await open(master, o, 'its master');
      // Every node that answers sees the replica on the cluster bus, connected and not failing,
      // and the replica its master: a replica restarted moments ago may not be seen yet, and then
      // its master does not hear the request or the other masters do not grant their votes.
      const sees = async (c: Redis, id: string) => {
        const n = (await nodesSeenBy(c)).get(id);
        return !!n && n.link === 'connected' && !n.flags.some((f) => f.startsWith('fail'));
      };
      await until(`every node seeing ${addrOf(replica)} connected on the cluster bus`, o, async () => {
        if (!(await sees(rc, master.id))) return undefined;
        const views = await Promise.all(members.filter((m) => m.id !== replica.id).map((m) => withClient(m, o, (c) => sees(c, replica.id))));
        return views.every((v) => v !== false) || undefined;
      }, 100);
      await catchUp(rc, mc, replica, master, o);
      const t0 = Date.now();
      let askedAt = 0;
      let asked = 0;
      let infoAt = 0;
      await until(`${addrOf(replica)} taking its shard over (CLUSTER FAILOVER)`, o, async () => {
        if (await ownLineSaysMaster(rc)) return true;
        // A manual failover that did not happen within Redis's 5 s is asked again, up to three
        // times, once the replica sees its cluster whole (a node restarted moments ago may still
        // be flagged failing, and its vote missing): each attempt holds the master's writers
        // until it times out.
        if (Date.now() - askedAt > MANUAL_FAILOVER_MS) {
          if (asked && Date.now() - infoAt < 200) return undefined;
          infoAt = Date.now();
          if (asked && !/cluster_state:ok/.test(String(await rc.call('CLUSTER', 'INFO')))) return undefined;
          if (asked++ >= 3) throw new Error(`${addrOf(master)} did not agree to ${addrOf(replica)}'s CLUSTER FAILOVER three times: nothing changed`);
          // Promoted between the question and the command: Redis refuses a failover to a master.
          await rc.call('CLUSTER', 'FAILOVER').catch((e: Error) => {
            if (!/to a replica/i.test(e.message)) throw e;
          });
          askedAt = Date.now();
        }
        return undefined;
      }, 5);
      pauseMs = Date.now() - t0;
    } else {
      o.log?.(`${addrOf(replica)} is its shard's master already`);
    }
    await until(`every node seeing ${addrOf(replica)} as master`, o, async () => {
      // A node that does not answer is left to check; one that answers must know it as master.
      const views = await Promise.all(members.map((m) => (m.id === replica.id ? Promise.resolve(undefined) : withClient(m, o, async (c) => (await nodesSeenBy(c)).get(replica.id)?.flags.includes('master') ?? false))));
      return views.every((v) => v !== false) || undefined;
    }, 100);
    await linkedTo(master, replica, o);
    return { already, pauseMs };
  } finally {
    rc.disconnect();
    mc?.disconnect();
  }
}

/** Wait until `x` replicates `master` with its link up. */
async function linkedTo(x: PlannedInstance, master: PlannedInstance, o: SwitchoverOptions): Promise<void> {
  await until(`${addrOf(x)} replicating ${addrOf(master)}`, o, () => withClient(x, o, async (c) => {
    const r = await role(c);
    return (replicates(r, master) && r[3] === 'connected') || undefined;
  }), 100);
}

/** `fn` on a short connection; undefined when the node does not answer (it is left to check). */
function withClient<T>(i: PlannedInstance, o: SwitchoverOptions, fn: (c: Redis) => Promise<T>): Promise<T | undefined> {
  return withAdmin(i, { auth: o.auth }, fn).catch(() => undefined);
}

/** How long Redis's FAILOVER may wait for the replica to have every write before it gives up, ms. */
const FAILOVER_MS = 10_000;

/**
 * Plain Redis: `replica` becomes the master of its group; `master` and `others` (the group's
 * other replicas) replicate it. Redis's own FAILOVER (6.2 and later) does the switch: the master
 * pauses its writers, waits until the replica has every byte, becomes its replica and only then
 * lets it take over, so at no moment do two nodes take writes. A FAILOVER that times out leaves
 * the master in charge and changes nothing.
 */
export async function redisSwitchover(replica: PlannedInstance, master: PlannedInstance, others: PlannedInstance[], o: SwitchoverOptions): Promise<SwitchoverResult> {
  const rc = await open(replica, o, 'the replica to promote');
  let mc: Redis | undefined;
  try {
    const already = (await role(rc))[0] === 'master';
    let pauseMs = 0;
    if (!already) {
      mc = await open(master, o, 'its master');
      await catchUp(rc, mc, replica, master, o);
      const t0 = Date.now();
      await mc.call('FAILOVER', 'TO', replica.address, String(replica.port), 'TIMEOUT', String(FAILOVER_MS)).catch((e: Error) => {
        if (!/already in progress/i.test(e.message)) throw e;
      });
      const m = mc;
      await until(`${addrOf(replica)} taking over (FAILOVER)`, o, async () => {
        if ((await role(rc))[0] === 'master') return true;
        const state = /master_failover_state:(\S+)/.exec(await m.info('replication'))?.[1];
        if (state === 'no-failover' && (await role(m))[0] === 'master') throw new Error(`FAILOVER to ${addrOf(replica)} did not complete within ${FAILOVER_MS / 1000} s (the replica did not catch up): ${addrOf(master)} kept its role; nothing changed`);
        return undefined;
      }, 2);
      pauseMs = Date.now() - t0;
    } else {
      o.log?.(`${addrOf(replica)} is its group's master already`);
      // Two masters would mean writes on both: not ovl's to settle by discarding one side.
      const old = await withClient(master, o, role);
      if (old?.[0] === 'master') throw new Error(`${addrOf(replica)} and ${addrOf(master)} both say they are the master: writes may have reached both; make one replicate the other by hand (REPLICAOF), then run the failover again`);
    }
    await Promise.all(others.map((x) => withClient(x, o, async (c) => {
      if (!replicates(await role(c), replica)) await c.call('REPLICAOF', replica.address, String(replica.port));
    })));
    for (const x of [master, ...others]) await linkedTo(x, replica, o);
    return { already, pauseMs };
  } finally {
    rc.disconnect();
    mc?.disconnect();
  }
}

/** `replica` takes its shard over from `master`, the way the plan's type does it. */
export function switchover(plan: Plan, replica: PlannedInstance, master: PlannedInstance, o: SwitchoverOptions): Promise<SwitchoverResult> {
  if (plan.type === 'redis_cluster') return clusterSwitchover(replica, master, plan.instances, o);
  const others = plan.instances.filter((i) => i.shard === replica.shard && i.id !== replica.id && i.id !== master.id);
  return redisSwitchover(replica, master, others, o);
}

/** The member of `shard` that says it is a master now (ROLE), if one answers so. */
export async function liveMaster(members: PlannedInstance[], o: SwitchoverOptions): Promise<PlannedInstance | undefined> {
  const roles = await Promise.all(members.map((m) => withClient(m, o, role)));
  return members.find((_, k) => roles[k]?.[0] === 'master');
}

/** Wait until `replica` (just started) replicates `master` with its link up and has caught up. */
export async function waitInSync(replica: PlannedInstance, master: PlannedInstance, o: SwitchoverOptions): Promise<void> {
  await linkedTo(replica, master, o);
  const target = await withClient(master, o, masterOffset);
  if (target === undefined) throw new Error(`${addrOf(master)} does not answer`);
  await until(`${addrOf(replica)} catching up with ${addrOf(master)}`, o, () => withClient(replica, o, async (c) => ((await role(c))[4] ?? 0) >= target - CAUGHT_UP_BYTES || undefined), 100);
}
