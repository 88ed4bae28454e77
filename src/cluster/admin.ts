// One-off admin connections to cache instances (failback, join): no retries and short
// timeouts, so that a node that does not answer becomes an error of that node, not a hang.
import { Redis } from 'ioredis';
import type { PlannedInstance } from './types.js';

export interface AdminOptions {
  password?: string;
}

export function adminClient(i: Pick<PlannedInstance, 'address' | 'port'>, o: AdminOptions): Redis {
  const c = new Redis({ host: i.address, port: i.port, password: o.password, lazyConnect: true, connectTimeout: 2000, commandTimeout: 5000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false, disableClientInfo: true });
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

/** CLUSTER NODES by node id: its flags and master id. */
export function clusterNodes(text: string): Map<string, { flags: string[]; master: string }> {
  return new Map(
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const f = l.split(' ');
        return [f[0]!, { flags: (f[2] ?? '').split(','), master: f[3] ?? '-' }] as const;
      }),
  );
}

/** Whether the node's own line in CLUSTER NODES says master: its role from nodes.conf, unlike
 * ROLE, which says master for a replica's first moments after a start. */
export async function ownLineSaysMaster(c: Redis): Promise<boolean> {
  const own = [...clusterNodes(String(await c.call('CLUSTER', 'NODES'))).values()].find((n) => n.flags.includes('myself'));
  return own?.flags.includes('master') ?? false;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
