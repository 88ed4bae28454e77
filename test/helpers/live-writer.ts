// A client writing one key after another through a cluster (or any client with set/get) until
// stopped, as an application would: what it got acknowledged is read back at the end. Shared by
// the tests and benchmarks of every live change (scale, migration, failover).

import { Redis } from 'ioredis';

/** What the writer needs of a client: ioredis' Cluster and Redis both fit. */
export interface KeyValue {
  set(key: string, value: string): Promise<unknown>;
  get(key: string): Promise<string | null>;
}

export interface LiveWriter {
  /** Indices of the writes acknowledged, in order. */
  acked: number[];
  /** Each error the client passed up (one per failed write). */
  errors: string[];
  /** The longest time between two acknowledged writes, ms: how long writes were held. */
  longestGapMs(): number;
  stop(): Promise<void>;
  /** Acknowledged writes not readable (or not what was written) now. */
  lost(reader?: KeyValue): Promise<number[]>;
}

export interface LiveWriterOptions {
  /** A pause of 5 ms after every this many writes (default 10): a steady client, not a load test. */
  pauseEvery?: number;
  /** Pause after an error before writing again, ms (default 50). */
  afterErrorMs?: number;
}

export function liveWriter(c: KeyValue, prefix: string, o: LiveWriterOptions = {}): LiveWriter {
  const acked: number[] = [];
  const errors: string[] = [];
  const every = o.pauseEvery ?? 10;
  let stop = false;
  let last = 0;
  let longest = 0;
  const done = (async () => {
    for (let i = 0; !stop; i++) {
      try {
        await c.set(`${prefix}:${i}`, `w${i}`);
        acked.push(i);
        const now = performance.now();
        if (last) longest = Math.max(longest, now - last);
        last = now;
        if (every && i % every === every - 1) await new Promise((r) => setTimeout(r, 5));
      } catch (e) {
        errors.push((e as Error).message);
        await new Promise((r) => setTimeout(r, o.afterErrorMs ?? 50));
      }
    }
  })();
  return {
    acked,
    errors,
    longestGapMs: () => Math.round(longest),
    async stop() {
      stop = true;
      await done;
    },
    async lost(reader = c) {
      const missing: number[] = [];
      for (let k = 0; k < acked.length; k += 1000) {
        const part = acked.slice(k, k + 1000);
        const got = await Promise.all(part.map((i) => reader.get(`${prefix}:${i}`)));
        got.forEach((v, j) => v !== `w${part[j]}` && missing.push(part[j]!));
      }
      return missing;
    },
  };
}

/**
 * A plain Redis client of a master/replica group, as applications without Sentinel write one:
 * a write refused by a node that is no longer the master (READONLY, or gone) is sent again to
 * the node that says it is the master now.
 */
export function followMaster(insts: { address: string; port: number; role: string }[]): KeyValue & { close(): void } {
  const clients = insts.map((i) => new Redis({ host: i.address, port: i.port, maxRetriesPerRequest: 1 }));
  let cur = clients[insts.findIndex((i) => i.role === 'master')]!;
  const findMaster = async () => {
    for (const c of clients) if ((await c.role().catch(() => ['down']))[0] === 'master') cur = c;
  };
  return {
    async set(k, v) {
      for (let tries = 0; ; tries++) {
        try {
          return await cur.set(k, v);
        } catch (e) {
          if (tries > 100 || !/READONLY|ECONNREFUSED|Connection is closed/.test((e as Error).message)) throw e;
          await new Promise((r) => setTimeout(r, 20));
          await findMaster();
        }
      }
    },
    get: (k) => cur.get(k),
    close: () => clients.forEach((c) => c.disconnect()),
  };
}

