#!/usr/bin/env zx
// Capacity per cache host: instances, masters, memory reserved of the host's total, ports free;
// then the fleet's totals. --json prints the same as data.
//
//   npx zx scripts/ops/capacity.mjs [-i inventories/prod.yml] [--json]
import { argv } from 'zx';
import { openFleet } from 'ovl';

const fleet = await openFleet(argv.i ?? argv.inventory ?? process.env.OVL_INVENTORY ?? 'inventories/sandbox.yml');
try {
  const hosts = await fleet.hosts.list();
  const sum = (f) => hosts.reduce((n, h) => n + f(h), 0);
  const total = {
    hosts: hosts.length,
    instances: sum((h) => h.used.instances),
    masters: sum((h) => h.used.masters),
    memMB: sum((h) => h.memMB),
    usedMemMB: sum((h) => h.used.memMB),
    freePorts: sum((h) => h.free.ports),
  };
  if (argv.json) {
    console.log(JSON.stringify({ hosts, total }, null, 2));
  } else {
    const pct = (used, all) => (all ? `${Math.round((100 * used) / all)}%` : '-');
    const rows = [['HOST', 'INSTANCES', 'MASTERS', 'MEMORY RESERVED', 'PORTS FREE']];
    for (const h of hosts) rows.push([h.name, h.used.instances, h.used.masters, `${h.used.memMB} of ${h.memMB} MB (${pct(h.used.memMB, h.memMB)})`, h.free.ports]);
    rows.push(['total', total.instances, total.masters, `${total.usedMemMB} of ${total.memMB} MB (${pct(total.usedMemMB, total.memMB)})`, total.freePorts]);
    const widths = rows[0].map((_, k) => Math.max(...rows.map((r) => String(r[k]).length)));
    for (const r of rows) console.log(r.map((c, k) => String(c).padEnd(widths[k])).join('  ').trimEnd());
  }
} finally {
  await fleet.close();
}
