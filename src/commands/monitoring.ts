// `ovl monitoring sync`: Prometheus's scrape targets written again from etcd on every host of
// server.prometheus (the scheduler does it after each task; this is for targets that drifted).
import { hostsOf } from '../inventory/types.js';
import { syncTargets } from '../monitoring/sync.js';
import { plural } from '../util/plural.js';
import { UsageError } from './errors.js';
import { withState } from './cluster.js';

export async function monitoringSync(o: { inventory?: string }, out: (line: string) => void): Promise<number> {
  return withState(o.inventory, async (etcd, inv) => {
    if (!hostsOf(inv, 'prometheus').length) throw new UsageError(`${inv.file} lists no host in server.prometheus: there is no Prometheus to write targets for`);
    const r = await syncTargets(inv, etcd);
    for (const u of r.unscraped) out(`not scraped: ${u}`);
    for (const f of r.failed) out(`targets not written: ${f}`);
    for (const f of r.exportersFailed) out(`exporter passwords not written: ${f}`);
    out(`${plural(r.targets, 'Redis target')}, ${plural(r.memcacheTargets, 'memcache target')} on ${r.hosts.length - r.failed.length} of ${plural(r.hosts.length, 'Prometheus host')}`);
    return r.failed.length || r.exportersFailed.length ? 2 : 0;
  });
}
