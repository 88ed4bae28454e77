// A monitor of the instances' ports during a rolling change: every 50 ms, which do not accept
// a connection; the worst moment of any shard (how many of its members were down at once).
// Start what it watches with an asynchronous spawn: a blocking one stalls its timers into false
// alarms.
import { connect } from 'node:net';

interface Watched {
  address: string;
  port: number;
  shard: number;
}

const listening = (i: Watched) =>
  new Promise<boolean>((resolve) => {
    const s = connect({ host: i.address, port: i.port });
    s.setTimeout(1000);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
    s.once('timeout', () => (s.destroy(), resolve(false)));
  });

/** Every 50 ms, which instances do not accept connections; the worst moment per shard. */
export function monitor(insts: Watched[]) {
  let stop = false;
  const downSeen = new Set<string>();
  let worst = { count: 0, at: '' };
  const t0 = Date.now();
  const log: string[] = [];
  const done = (async () => {
    while (!stop) {
      const up = await Promise.all(insts.map(listening));
      log.push(`${Date.now() - t0}:${up.map((u) => (u ? 1 : 0)).join('')}`);
      const byShard = new Map<number, string[]>();
      insts.forEach((i, k) => {
        if (up[k]) return;
        downSeen.add(`${i.address}:${i.port}`);
        byShard.set(i.shard, [...(byShard.get(i.shard) ?? []), `${i.address}:${i.port}`]);
      });
      for (const down of byShard.values()) if (down.length > worst.count) worst = { count: down.length, at: `${down.join(' and ')} at ${Date.now() - t0} ms (${log.slice(-8).join(' ')})` };
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return { downSeen, worst: () => worst, stop: async () => ((stop = true), await done) };
}
