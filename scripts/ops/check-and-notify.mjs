#!/usr/bin/env zx
// Check every cluster (as `ovl cluster check --all`) and post the unhealthy ones to a webhook as
// JSON: { inventory, unhealthy: [{ cluster, problems: [{ instance, problem }] }] }. Nothing is
// posted when all are healthy. Exit 0 all healthy, 1 some not (posted), 2 the post failed.
//
//   npx zx scripts/ops/check-and-notify.mjs --webhook https://chat.example.com/hooks/ovl [-i inventories/prod.yml]
import { argv } from 'zx';
import { openFleet } from 'ovl';

if (!argv.webhook) {
  console.error('check-and-notify: give --webhook URL (where to post the unhealthy clusters)');
  process.exit(2);
}
const fleet = await openFleet(argv.i ?? argv.inventory ?? process.env.OVL_INVENTORY ?? 'inventories/sandbox.yml');
try {
  const checked = await fleet.clusters.checkAll();
  const unhealthy = checked.filter((c) => c.result && !c.result.healthy).map((c) => ({ cluster: c.name, problems: c.result.problems }));
  for (const c of checked) console.log(`${c.name}: ${c.skipped ?? (c.result.healthy ? 'healthy' : `NOT healthy, ${c.result.problems.length} problems`)}`);
  if (unhealthy.length) {
    const r = await fetch(argv.webhook, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inventory: fleet.inv.file, unhealthy }) }).catch((e) => ({ ok: false, status: e.cause?.code ?? e.message }));
    if (!r.ok) {
      console.error(`check-and-notify: ${argv.webhook} answered ${r.status}; the unhealthy clusters were not posted`);
      process.exitCode = 2;
    } else {
      console.log(`posted ${unhealthy.length} unhealthy cluster(s) to ${argv.webhook}`);
      process.exitCode = 1;
    }
  }
} finally {
  await fleet.close();
}
