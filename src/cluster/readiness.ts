// Waiting for a Redis Cluster that is forming, before its full consistency check: one short
// command per node and round on connections kept open, and only to the nodes not ready yet.
// A full check (check.ts) makes a new connection per node and reads every node's CLUSTER
// NODES: while hundreds of nodes start on the same machines, each round of it takes seconds
// of scheduling delays and CPU that the forming cluster needs, only to fail. What this waits
// for is what the full check then confirms.
import { Redis } from 'ioredis';
import type { Plan, PlannedInstance } from './types.js';

export interface ReadyOptions {
  password?: string;
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

/** Wait until every node of `plan` says it is ready; returns how many still did not. */
export async function untilReady(plan: Plan, o: ReadyOptions): Promise<number> {
  const interval = o.intervalMs ?? 200;
  const clients = new Map<number, Redis>();
  const client = (k: number): Redis => {
    let c = clients.get(k);
    if (!c) {
      const inst = plan.instances[k]!;
      c = new Redis({
        host: inst.address,
        port: inst.port,
        password: o.password,
        lazyConnect: true,
        connectTimeout: 2000,
        commandTimeout: 2000,
        maxRetriesPerRequest: 0,
        // A node not listening yet: try again next round on a new connection.
        retryStrategy: () => null,
        enableReadyCheck: false,
        disableClientInfo: true,
      });
      c.on('error', () => undefined);
      clients.set(k, c);
    }
    return c;
  };
  let waiting = plan.instances.map((_, k) => k);
  try {
    while (waiting.length && Date.now() < o.deadline && !o.signal?.aborted) {
      const started = Date.now();
      const answers = await Promise.all(
        waiting.map(async (k) => {
          const { command, ready } = readyCommand(plan.instances[k]!);
          const c = client(k);
          try {
            if (c.status === 'wait') await c.connect();
            return ready(String(await c.call(command[0]!, ...command.slice(1))));
          } catch {
            clients.delete(k);
            c.disconnect();
            return false;
          }
        }),
      );
      waiting = waiting.filter((_, n) => !answers[n]);
      const pause = Math.min(interval - (Date.now() - started), o.deadline - Date.now());
      if (waiting.length && pause > 0) await new Promise((r) => setTimeout(r, pause));
    }
    return waiting.length;
  } finally {
    for (const c of clients.values()) c.disconnect();
  }
}
