import { artifactFiles, type ArtifactFile } from '../src/artifacts.js';
import type { Runbook } from '../src/engine/runbook.js';
import type { HostSpec } from '../src/inventory/types.js';
import { artifact } from '../src/ops/files.js';
import type { HostFacts } from '../src/ops/facts.js';
import { capacityKey, type HostCapacityRecord } from '../src/state/keys.js';
import { etcdEndpoints } from '../src/state/etcd.js';
import { getKey, putKey } from '../src/state/etcd-http.js';
import { change, ok, type Operation } from '../src/ops/types.js';

export function capacityOf(host: HostSpec, facts: HostFacts, files: ArtifactFile[]): HostCapacityRecord {
  const versions: Record<string, string[]> = {};
  for (const f of files) {
    const list = (versions[f.type] ??= []);
    if (!list.includes(f.version)) list.push(f.version);
  }
  return { host: host.name, address: host.address, cpu: facts.cpu, memMB: facts.memMB, ports: host.vars.cache_ports, versions };
}

/** The host's capacity in etcd, where the scheduler reads it. */
function capacityRegistered(record: HostCapacityRecord, endpoints: string[]): Operation {
  const key = capacityKey(record.host);
  const want = JSON.stringify(record);
  return {
    title: `capacity registered in etcd (${record.cpu} cpu, ${record.memMB} MB, ports ${record.ports.from}-${record.ports.to})`,
    read: async (ctx) => {
      try {
        return (await getKey(endpoints, key)) ?? '';
      } catch (e) {
        if (ctx.check) return '';
        throw new Error(`etcd unreachable at ${endpoints.join(',')}: ${(e as Error).message}`);
      }
    },
    plan(fact) {
      if (fact === want) return ok(`${key} up to date`);
      return change(fact ? `${key} updated` : `${key} written`, [
        { kind: 'local', what: `put ${key}`, run: () => putKey(endpoints, key, want) },
      ]);
    },
  };
}

export const cacheBinaries: Runbook<{ files: ArtifactFile[]; endpoints: string[] }> = {
  name: 'cache-binaries',
  summary: 'redis-server, redis-cli and memcached at /data/lib/<type>/<version>/bin, checksummed; capacity registered in etcd',
  prepare: async (comp) => ({ files: await artifactFiles(comp.inv.artifacts, ['redis', 'memcache']), endpoints: etcdEndpoints(comp.inv) }),
  host: (h, _comp, { files, endpoints }) => ({
    operations: [
      ...files.map((f) => artifact(f.local, f.remote, f.sha256, { mode: 0o755 })),
      capacityRegistered(capacityOf(h.host, h.facts, files), endpoints),
    ],
  }),
};
