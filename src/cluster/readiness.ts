// Waiting for a Redis Cluster that is forming, before its full consistency check: one short
// command per node and round on connections kept open, and only to the nodes not ready yet.
// A full check (check.ts) makes a new connection per node and reads every node's CLUSTER
// NODES: while hundreds of nodes start on the same machines, each round of it takes seconds
// of scheduling delays and CPU that the forming cluster needs, only to fail. What this waits
// for is what the full check then confirms.
import { Redis } from 'ioredis';
import { connectOptions, type ClusterAuth } from './auth.js';
import type { Plan, PlannedInstance } from './types.js';

export interface ReadyOptions {
  auth?: ClusterAuth;
  /** Date.now() after which to stop waiting (the full check then says what is wrong). */
  deadline: number;
  signal?: AbortSignal;
  /** Pause between rounds, ms; default 200. */
  intervalMs?: number;
}

/** A node's own word that it is ready: a master's cluster_state, a replica's link to its master. */
export function readyCommand(inst: PlannedInstance): { command: string[]; ready: (reply: string) => boolean } {
  return inst.role === 'replica'
    ? { command: ['INFO', 'replication'], ready: (r) => /^master_link_status:up\r?$/m.test(r) }
    : { command: ['CLUSTER', 'INFO'], ready: (r) => /^cluster_state:ok\r?$/m.test(r) };
}

/**
 * Wait until every node of `plan` says it is ready; returns how many still did not. One
 * question in flight per node at most: a node starved of CPU answers late rather than being
 * asked again on a new connection (under 600 forming nodes an answer can take seconds).
 */
export async function untilReady(plan: Plan, o: ReadyOptions): Promise<number> {
  const interval = o.intervalMs ?? 200;
  const clients = new Map<number, Redis>();
  const ready = new Set<number>();
  const asking = new Set<number>();
  // The last answer ends the wait at once, not at the end of a pause.
  let wake = () => {};
  const ask = async (k: number): Promise<void> => {
    const inst = plan.instances[k]!;
    let c = clients.get(k);
    if (!c) {
      c = new Redis({
        host: inst.address,
        port: inst.port,
        ...connectOptions(o.auth),
        lazyConnect: true,
        connectTimeout: 10_000,
        maxRetriesPerRequest: 0,
        // A node not listening yet: asked again later on a new connection.
        retryStrategy: () => null,
        enableReadyCheck: false,
        disableClientInfo: true,
      });
      c.on('error', () => undefined);
      clients.set(k, c);
    }
    asking.add(k);
    try {
      if (c.status === 'wait') await c.connect();
      const { command, ready: isReady } = readyCommand(inst);
      if (isReady(String(await c.call(command[0]!, ...command.slice(1))))) ready.add(k);
      if (ready.size === plan.instances.length) wake();
    } catch {
      clients.delete(k);
      c.disconnect();
    } finally {
      asking.delete(k);
    }
  };
  try {
    while (ready.size < plan.instances.length && Date.now() < o.deadline && !o.signal?.aborted) {
      for (let k = 0; k < plan.instances.length; k++) if (!ready.has(k) && !asking.has(k)) void ask(k);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, Math.max(0, Math.min(interval, o.deadline - Date.now())));
      });
    }
    return plan.instances.length - ready.size;
  } finally {
    for (const c of clients.values()) c.disconnect();
  }
}
