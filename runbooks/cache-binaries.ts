import { artifactFiles, type ArtifactFile } from '../src/artifacts.js';
import type { HostAlloc } from '../src/cluster/capacity.js';
import type { Runbook } from '../src/engine/runbook.js';
import type { HostSpec } from '../src/inventory/types.js';
import { artifact, directories, file } from '../src/ops/files.js';
import { remote } from '../src/paths.js';
import type { Issued } from '../src/pki/fleet-pki.js';
import { redisCerts, type RedisCerts } from '../src/pki/redis-certs.js';
import type { HostFacts } from '../src/ops/facts.js';
import { allocKey, capacityKey, type HostCapacityRecord } from '../src/state/keys.js';
import { etcdAccess, type EtcdAccess } from '../src/state/etcd.js';
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

/** Ports the host's allocation holds outside its range, by cluster: "orders 7000, 7001". */
export function heldOutside(alloc: HostAlloc, ports: { from: number; to: number }): string[] {
  const byCluster = new Map<string, number[]>();
  for (const [port, held] of Object.entries(alloc)) {
    const p = Number(port);
    if (p < ports.from || p > ports.to) byCluster.set(held.cluster, [...(byCluster.get(held.cluster) ?? []), p]);
  }
  return [...byCluster].sort(([a], [b]) => a.localeCompare(b)).map(([cluster, ps]) => `${cluster} ${ps.sort((a, b) => a - b).join(', ')}`);
}

/** The host's capacity in etcd, where the scheduler reads it. */
function capacityRegistered(record: HostCapacityRecord, access: () => EtcdAccess): Operation<{ registered: string; alloc: HostAlloc }> {
  const key = capacityKey(record.host);
  const want = JSON.stringify(record);
  return {
    title: `capacity registered in etcd (${record.cpu} cpu, ${record.memMB} MB, ports ${record.ports.from}-${record.ports.to})`,
    read: async (ctx) => {
      try {
        const [registered, alloc] = await Promise.all([getKey(access(), key), getKey(access(), allocKey(record.host))]);
        return { registered: registered ?? '', alloc: alloc ? (JSON.parse(alloc) as HostAlloc) : {} };
      } catch (e) {
        if (ctx.check) return { registered: '', alloc: {} };
        throw new Error(`etcd unreachable: ${(e as Error).message}`);
      }
    },
    plan({ registered, alloc }) {
      if (registered === want) return ok(`${key} up to date`);
      // A narrowed range leaves running instances where they are: say so, since the freed
      // ports are no longer ovl's to give, but those instances still listen on them.
      const outside = heldOutside(alloc, record.ports);
      const note = outside.length ? `; ports still held outside ${record.ports.from}-${record.ports.to} (the instances keep running; new ones get ports in the range): ${outside.join('; ')}` : '';
      return change(`${registered ? `${key} updated` : `${key} written`}${note}`, [
        { kind: 'local', what: `put ${key}`, run: () => putKey(access(), key, want) },
      ]);
    },
  };
}

/** The host's certificate for TLS clusters (its key never shown) and the CA it trusts. Instances
 * read them when they start: a renewed one is taken by the next (rolling) restart. */
function hostCerts(certs: RedisCerts, cert: Issued): Operation[] {
  const until = cert.notAfter.toISOString().slice(0, 10);
  return [
    directories([remote.tls.dir], { mode: 0o700 }),
    file(remote.tls.ca, certs.ca.cert, { mode: 0o644, secret: true }),
    { ...file(remote.tls.cert, cert.cert, { mode: 0o644, secret: true }), title: `TLS certificate for Redis ${remote.tls.cert} (valid until ${until})`, notable: true },
    file(remote.tls.key, cert.key, { mode: 0o600, secret: true }),
  ];
}

export const cacheBinaries: Runbook<{ files: ArtifactFile[]; access: () => EtcdAccess; certs?: RedisCerts }> = {
  name: 'cache-binaries',
  summary: 'redis-server, redis-cli and memcached at /data/lib/<type>/<version>/bin, checksummed; TLS certificate for Redis; capacity registered in etcd',
  prepare: async (comp) => {
    // Read when first used: a fresh fleet's client certificate is made by the etcd runbook.
    let access: EtcdAccess | undefined;
    const certs = await redisCerts(comp.inv, comp.allHosts, { dryRun: comp.check });
    return { files: await artifactFiles(comp.inv.artifacts, ['redis', 'memcache']), access: () => (access ??= etcdAccess(comp.inv)), certs };
  },
  host: (h, _comp, { files, access, certs }) => {
    const cert = certs?.hosts.get(h.host.name);
    return {
      operations: [
        ...files.map((f) => artifact(f.local, f.remote, f.sha256, { mode: 0o755 })),
        ...(certs && cert ? hostCerts(certs, cert) : []),
        capacityRegistered(capacityOf(h.host, h.facts, files), access),
      ],
    };
  },
};
