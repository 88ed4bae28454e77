#!/usr/bin/env zx
// Restart every instance on HOST, one at a time, each cluster healthy again before the next (a
// changed kernel limit, a library upgraded under the binaries). A master is first switched to a
// replica on another host (no acknowledged write lost) and restarted as a replica; one with no
// replica elsewhere is skipped, named, and the script exits 1 (--outage restarts it in place).
//
//   npx zx scripts/ops/rolling-restart-host.mjs HOST [-i inventories/prod.yml] [--outage]
import { argv } from 'zx';
import { openFleet } from 'ovl';

const host = String(argv._[0] ?? '');
if (!host) {
  console.error('rolling-restart-host: name the host: rolling-restart-host.mjs HOST');
  process.exit(2);
}
const addr = (i) => `${i.address}:${i.port}`;
const healthyWithin = async (cluster, ms) => {
  const end = Date.now() + ms;
  for (;;) {
    const r = await cluster.check();
    if (r.healthy) return;
    if (Date.now() > end) throw new Error(`${cluster.name} not healthy ${ms / 1000} s after the restart: ${r.problems.slice(0, 3).map((p) => `${p.instance} ${p.problem}`).join('; ')}`);
    await new Promise((res) => setTimeout(res, 500));
  }
};
const fleet = await openFleet(argv.i ?? argv.inventory ?? process.env.OVL_INVENTORY ?? 'inventories/sandbox.yml');
let skipped = 0;
try {
  for (const summary of await fleet.clusters.list()) {
    const cluster = await fleet.clusters.get(summary.name).catch(() => undefined);
    const plan = cluster && (await cluster.plan());
    if (!plan) continue;
    // Replicas and memcache nodes first: a master's switch then has its replicas fresh.
    const here = plan.instances.filter((i) => i.host === host).sort((a, b) => (a.role === 'master') - (b.role === 'master'));
    for (const i of here) {
      if (i.role === 'master') {
        const to = plan.instances.find((r) => r.masterId === i.id && r.host !== host);
        if (to) {
          await cluster.failover({ instance: addr(to) });
          console.log(`${plan.cluster}: ${addr(i)} handed shard ${i.shard} to ${addr(to)} (${to.host})`);
        } else if (!argv.outage) {
          skipped++;
          console.log(`${plan.cluster}: ${addr(i)} skipped: master of shard ${i.shard} with no replica elsewhere (--outage restarts it in place)`);
          continue;
        }
      }
      const t0 = Date.now();
      await cluster.restart({ instance: addr(i) });
      await healthyWithin(cluster, 60_000);
      console.log(`${plan.cluster}: ${addr(i)} restarted, cluster healthy (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  }
} finally {
  await fleet.close();
}
process.exitCode = skipped ? 1 : 0;
