// A planned switchover: a replica takes its shard over from a master that is up, with no write
// lost. Redis Cluster: CLUSTER FAILOVER (not FORCE) on the replica, which pauses the master's
// clients, waits for the replica to have every write and then takes the slots. Plain Redis has
// no such command: the master's writes are paused (CLIENT PAUSE WRITE), the replica promoted
// once it has every byte, and the old master and the other replicas repointed to it.
//
// Each step can be asked again: a switchover that finds the replica already the master with the
// old master replicating it only waits for the rest to agree.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { adminClient, nodesSeenBy, ownLineSaysMaster, roleOf } from './admin.js';
import { addrOf } from './store.js';
import type { PlannedInstance } from './types.js';

export interface SwitchoverOptions {
  password?: string;
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
/** How long a plain Redis master's writes may stay paused should ovl die mid-switch, ms. */
const PAUSE_MS = 30_000;
/** How close a replica must be to its master before the switch: the pause lasts this catch-up. */
const CAUGHT_UP_BYTES = 64 << 10;

type Role = [string, string?, number?, string?, number?];

const role = async (c: Redis) => (await roleOf(c)) as Role;
const replicates = (r: Role, m: PlannedInstance) => r[0] === 'slave' && `${r[1]}:${r[2]}` === addrOf(m);
const masterOffset = async (c: Redis) => Number(((await c.call('ROLE')) as [string, number])[1]);

async function open(i: PlannedInstance, o: SwitchoverOptions, what: string): Promise<Redis> {
  const c = adminClient(i, { password: o.password });
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
      await catchUp(rc, mc, replica, master, o);
      const t0 = Date.now();
      let askedAt = 0;
      await until(`${addrOf(replica)} taking its shard over (CLUSTER FAILOVER)`, o, async () => {
        if (await ownLineSaysMaster(rc)) return true;
        // A manual failover the master did not agree to within Redis's 5 s is asked again.
        if (Date.now() - askedAt > MANUAL_FAILOVER_MS) {
          await rc.call('CLUSTER', 'FAILOVER');
          askedAt = Date.now();
        }
        return undefined;
      }, 5);
      pauseMs = Date.now() - t0;
    } else {
      o.log?.(`${addrOf(replica)} is its shard's master already`);
    }
    await until(`every node seeing ${addrOf(replica)} as master`, o, async () => {
      const views = await Promise.all(members.map((m) => (m.id === replica.id ? Promise.resolve(undefined) : withClient(m, o, async (c) => (await nodesSeenBy(c)).get(replica.id)?.flags.includes('master')))));
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
async function withClient<T>(i: PlannedInstance, o: SwitchoverOptions, fn: (c: Redis) => Promise<T>): Promise<T | undefined> {
  const c = adminClient(i, { password: o.password });
  try {
    await c.connect();
    return await fn(c);
  } catch {
    return undefined;
  } finally {
    c.disconnect();
  }
}

/**
 * Plain Redis: `replica` becomes the master of its group; `master` and `others` (the group's
 * other replicas) replicate it. The old master's writes are paused from the moment its offset is
 * read until it replicates the new one, so the replica has every write it acknowledged.
 */
export async function redisSwitchover(replica: PlannedInstance, master: PlannedInstance, others: PlannedInstance[], o: SwitchoverOptions): Promise<SwitchoverResult> {
  const rc = await open(replica, o, 'the replica to promote');
  let mc: Redis | undefined;
  try {
    const r = await role(rc);
    const already = r[0] === 'master';
    let pauseMs = 0;
    if (!already) {
      mc = await open(master, o, 'its master');
      await catchUp(rc, mc, replica, master, o);
      const t0 = Date.now();
      await mc.call('CLIENT', 'PAUSE', String(PAUSE_MS), 'WRITE');
      try {
        const target = await masterOffset(mc);
        await until(`${addrOf(replica)} receiving the last writes of ${addrOf(master)}`, { ...o, timeoutMs: Math.min(o.timeoutMs, PAUSE_MS / 3) }, async () => ((await role(rc))[4] ?? 0) >= target || undefined, 2);
        await rc.call('REPLICAOF', 'NO', 'ONE');
        await mc.call('REPLICAOF', replica.address, String(replica.port));
      } finally {
        await mc.call('CLIENT', 'UNPAUSE').catch(() => undefined);
      }
      pauseMs = Date.now() - t0;
    } else {
      o.log?.(`${addrOf(replica)} is its group's master already`);
      // Resumed after the promotion: the old master may still think it is one.
      await withClient(master, o, async (c) => {
        if (!replicates(await role(c), replica)) await c.call('REPLICAOF', replica.address, String(replica.port));
      });
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
