#!/usr/bin/env zx
// Before a host's maintenance: every master on HOST hands its shard over to a replica on another
// host (a planned switchover each, no acknowledged write lost). A cluster with a master on HOST and
// no replica elsewhere to take over is refused (its shard would go down with the host): nothing is
// switched in it, and the script exits 1. Prints what moved, and what stays on HOST (replicas and
// memcache nodes stop with the host; `ovl cluster restart NAME` starts them when it is back).
//
//   npx zx scripts/ops/drain-host.mjs HOST [-i inventories/prod.yml] [--check]
import { argv } from 'zx';
import { openFleet } from 'ovl';

const host = String(argv._[0] ?? '');
if (!host) {
  console.error('drain-host: name the host: drain-host.mjs HOST [--check]');
  process.exit(2);
}
const addr = (i) => `${i.address}:${i.port}`;
const fleet = await openFleet(argv.i ?? argv.inventory ?? process.env.OVL_INVENTORY ?? 'inventories/sandbox.yml');
let refused = 0;
try {
  if (!(await fleet.hosts.list()).some((h) => h.name === host)) throw new Error(`no cache host named ${host} (its capacity is not registered in etcd)`);
  for (const summary of await fleet.clusters.list()) {
    const cluster = await fleet.clusters.get(summary.name).catch(() => undefined);
    const plan = cluster && (await cluster.plan());
    if (!plan) continue;
    const here = plan.instances.filter((i) => i.host === host);
    if (!here.length) continue;
    // Each master on HOST with the replicas (elsewhere) that could take its shard over.
    const handovers = here.filter((i) => i.role === 'master').map((m) => ({ m, to: plan.instances.filter((r) => r.masterId === m.id && r.host !== host) }));
    const stuck = handovers.filter((h) => !h.to.length);
    if (stuck.length) {
      refused++;
      console.log(`${plan.cluster}: refused: ${stuck.map((h) => `master ${addr(h.m)} (shard ${h.m.shard}) has no replica on another host`).join('; ')}; nothing switched (ovl cluster scale ${plan.cluster} --replicas N first)`);
      continue;
    }
    for (const { m, to } of handovers) {
      let last;
      for (const r of to) {
        try {
          if (!argv.check) await cluster.failover({ instance: addr(r) });
          console.log(`${plan.cluster}: shard ${m.shard}: master ${addr(m)} -> ${addr(r)} (${r.host})${argv.check ? ' (--check: not done)' : ''}`);
          last = undefined;
          break;
        } catch (e) {
          last = e;
        }
      }
      if (last) {
        refused++;
        console.log(`${plan.cluster}: shard ${m.shard}: master ${addr(m)} stays: no replica could take over (${last.message})`);
      }
    }
    for (const i of here.filter((x) => x.role !== 'master')) console.log(`${plan.cluster}: ${i.role} ${addr(i)} stays on ${host} (it stops with the host)`);
  }
} finally {
  await fleet.close();
}
process.exitCode = refused ? 1 : 0;
