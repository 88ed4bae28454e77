// One-off admin connections to cache instances (failback, join): no retries and short
// timeouts, so that a node that does not answer becomes an error of that node, not a hang.
import { Redis } from 'ioredis';
import { parseClusterNodes, type NodeLine } from './nodes-line.js';
import { connectOptions, type ClusterAuth } from './auth.js';
import type { PlannedInstance } from './types.js';

export interface AdminOptions {
  auth?: ClusterAuth;
  /** Connect and command timeout, ms; default 2 s to connect, 5 s per command. */
  answerMs?: number;
}

export function adminClient(i: Pick<PlannedInstance, 'address' | 'port'>, o: AdminOptions): Redis {
  const c = new Redis({ host: i.address, port: i.port, ...connectOptions(o.auth), lazyConnect: true, connectTimeout: o.answerMs ?? 2000, commandTimeout: o.answerMs ?? 5000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false, disableClientInfo: true });
  c.on('error', () => undefined);
  return c;
}

/** Run `fn` on a fresh admin connection to `i`, closed afterwards whatever happens. */
export async function withAdmin<T>(i: Pick<PlannedInstance, 'address' | 'port'>, o: AdminOptions, fn: (c: Redis) => Promise<T>): Promise<T> {
  const c = adminClient(i, o);
  try {
    await c.connect();
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

/** What the node says of the cluster (CLUSTER NODES), by node id. */
export async function nodesSeenBy(c: Redis): Promise<Map<string, NodeLine>> {
  return parseClusterNodes(String(await c.call('CLUSTER', 'NODES')));
}

/** The node's own line in CLUSTER NODES. */
export async function ownLine(c: Redis): Promise<NodeLine | undefined> {
  return [...(await nodesSeenBy(c)).values()].find((n) => n.flags.includes('myself'));
}

/** Whether the node's own line in CLUSTER NODES says master: its role from nodes.conf, unlike
 * ROLE, which says master for a replica's first moments after a start. */
export async function ownLineSaysMaster(c: Redis): Promise<boolean> {
  return (await ownLine(c))?.flags.includes('master') ?? false;
}

/** ROLE: ['slave', host, port, 'connect'|'connecting'|'sync'|'connected', offset] on a replica. */
export async function roleOf(c: Redis): Promise<[string, string?, number?, string?]> {
  return (await c.call('ROLE')) as [string, string?, number?, string?];
}
