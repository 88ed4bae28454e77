// A Redis Cluster node taking the place of one lost with its host (`restart --move`): the lost
// node's id is forgotten by every node that answers, so that a process that outlived a network
// cut is not let back in under the same name from its old address, and the new node, with an id
// of its own, meets the cluster and replicates its shard's master. Its planned role is given back
// afterwards like any failed-over master's (failback.ts).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { Semaphore } from '../util/semaphore.js';
import { nodesSeenBy, ownLine, ownLineSaysMaster, roleOf, withAdmin } from './admin.js';
import { addrOf } from './store.js';
import { BUS_PORT_OFFSET, type PlannedInstance } from './types.js';
import type { ClusterAuth } from './auth.js';

/** A full sync copies the shard's whole data set: minutes for gigabytes. */
const SYNC_MS = 15 * 60_000;

export interface JoinOptions {
  auth?: ClusterAuth;
  /** Give up after this long, ms. */
  timeoutMs: number;
  log?: (line: string) => void;
}

/** The member of `inst`'s shard (in `live`) whose own line says master, if any answers so. */
export async function shardMaster(inst: PlannedInstance, live: PlannedInstance[], o: JoinOptions): Promise<PlannedInstance | undefined> {
  for (const m of live.filter((i) => i.shard === inst.shard && i.id !== inst.id)) {
    if (await withAdmin(m, o, ownLineSaysMaster).catch(() => false)) return m;
  }
  return undefined;
}

/** Every node in `live` that answers forgets `id` (a node that never knew it is fine). Returns
 * the nodes that did not answer: they still know it. */
export async function forgetNode(live: PlannedInstance[], id: string, o: JoinOptions): Promise<string[]> {
  const missed: string[] = [];
  await Promise.all(
    live.map((i) =>
      withAdmin(i, o, (c) => c.call('CLUSTER', 'FORGET', id)).catch((e: Error) => {
        if (!/unknown node/i.test(e.message)) missed.push(`${addrOf(i)} (${e.message})`);
      }),
    ),
  );
  return missed;
}

/**
 * `joiner` (running, alone in its nodes.conf) meets the cluster through `via` and waits until
 * every node in `live` knows it (nothing may name it before: ERR Unknown node).
 */
export async function meetCluster(joiner: PlannedInstance, via: PlannedInstance, live: PlannedInstance[], o: JoinOptions): Promise<void> {
  const deadline = Date.now() + o.timeoutMs;
  await withAdmin(joiner, o, (c) => c.call('CLUSTER', 'MEET', via.address, String(via.port), String(via.port + BUS_PORT_OFFSET)));
  // Every node meets it too: gossip alone takes seconds per node to spread a new one.
  const meet = (i: PlannedInstance) => withAdmin(i, o, (c) => c.call('CLUSTER', 'MEET', joiner.address, String(joiner.port), String(joiner.port + BUS_PORT_OFFSET))).catch(() => undefined);
  await Promise.all(live.filter((i) => i.id !== via.id).map(meet));
  // Known to every node that answers; one that does not learns of it from the others' gossip.
  const known = async (i: PlannedInstance) => {
    const n = await withAdmin(i, o, nodesSeenBy).catch(() => null);
    if (n === null) return true;
    const line = n.get(joiner.id);
    return !!line && !line.flags.includes('handshake') && !line.flags.includes('noaddr');
  };
  let missing = live;
  while (missing.length && Date.now() < deadline) {
    const seen = await Promise.all(missing.map(known));
    missing = missing.filter((_, k) => !seen[k]);
    if (missing.length) await sleep(200);
  }
  if (missing.length) throw new Error(`${addrOf(joiner)} met the cluster, but ${missing.map(addrOf).join(', ')} did not learn of it within ${o.timeoutMs} ms`);
}

/**
 * `joiner` (running, alone in its nodes.conf) meets the cluster through `master`, waits until
 * every node in `live` knows it, and replicates `master`; then waits for its replication link
 * and until the master knows it as its replica.
 */
export async function joinShard(joiner: PlannedInstance, master: PlannedInstance, live: PlannedInstance[], o: JoinOptions): Promise<void> {
  const deadline = Date.now() + o.timeoutMs;
  await meetCluster(joiner, master, live, o);
  o.log?.(`${addrOf(joiner)} is known to the cluster: CLUSTER REPLICATE ${addrOf(master)}`);
  const synced = Date.now() + SYNC_MS;
  await withAdmin(joiner, o, async (c) => {
    // Asked only once: asked again (a restart finishing an interrupted join) it could restart a sync.
    const own = await ownLine(c);
    if (!own?.flags.includes('slave') || own.master !== master.id) await c.call('CLUSTER', 'REPLICATE', master.id);
    await tellRole(c, joiner, live);
    for (;;) {
      const role = await roleOf(c);
      if (role[0] === 'slave' && role[3] === 'connected') return;
      if (Date.now() > synced) throw new Error(`${addrOf(joiner)} does not finish its sync from ${addrOf(master)} within ${SYNC_MS / 60_000} minutes (ROLE: ${role.join(' ')}); ovl cluster restart finishes the join`);
      await sleep(200);
    }
  });
  // Done when the master, too, knows it as its replica (from its pings): only then does the
  // master take part in a manual failover the new node asks for (its planned role back). It
  // would learn it at the replica's next ping only, up to half the node timeout later.
  for (let k = 1; ; k++) {
    const line = (await withAdmin(master, o, nodesSeenBy)).get(joiner.id);
    if (line?.flags.includes('slave') && line.master === master.id) return;
    if (Date.now() > deadline) throw new Error(`${addrOf(master)} does not see ${addrOf(joiner)} as its replica within ${o.timeoutMs} ms`);
    if (k % 5 === 0) await withAdmin(joiner, o, (c) => tellRole(c, joiner, [master])).catch(() => undefined);
    await sleep(200);
  }
}

/** Each of `joiners` tells every node of `nodes` its role (tellRole); one that does not answer is left to gossip. */
export async function tellRoles(joiners: PlannedInstance[], nodes: PlannedInstance[], o: JoinOptions): Promise<void> {
  await Promise.all(joiners.map((j) => withAdmin(j, o, (c) => tellRole(c, j, nodes)).catch(() => undefined)));
}

/**
 * A node's new role reaches the others with its pings, up to half the node timeout later (10 s
 * and more seen here). A MEET carries it at once: a node reads the role in every PING, PONG or
 * MEET header of a node it knows, and the handshake the MEET opens ends with that node's PONG.
 */
async function tellRole(c: Redis, joiner: PlannedInstance, live: PlannedInstance[]): Promise<void> {
  // Each MEET opens a handshake (a connection) on both sides: a few at a time on a big cluster.
  const sem = new Semaphore(16);
  await Promise.all(live.filter((i) => i.id !== joiner.id).map((i) => sem.run(() => c.call('CLUSTER', 'MEET', i.address, String(i.port), String(i.port + BUS_PORT_OFFSET)).catch(() => undefined))));
}
