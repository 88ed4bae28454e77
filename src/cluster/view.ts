// Tables of a cluster's instances and of where they go, for `show` and `create --check`: rows
// of cells, joined with tabs by the caller (tab-separated output stays greppable and `column -t`
// aligns it).
import { instanceMemMB } from './placement.js';
import { addrOf } from './store.js';
import type { HostCapacity, Plan, PlannedInstance } from './types.js';

export const INSTANCE_HEADER = ['INSTANCE', 'HOST', 'ROLE', 'MASTER', 'SLOTS'];

/** Instances by shard, a master before its replicas, each with its master's address and slots. */
export function instanceRows<T extends PlannedInstance>(instances: T[]): { instance: T; cells: string[] }[] {
  const byId = new Map(instances.map((i) => [i.id, i]));
  return [...instances]
    .sort((a, b) => a.shard - b.shard || (a.role === 'master' ? -1 : b.role === 'master' ? 1 : 0))
    .map((i) => {
      const m = i.masterId ? byId.get(i.masterId) : undefined;
      const slots = i.slots?.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',') ?? '';
      return { instance: i, cells: [addrOf(i), i.host, i.role, m ? addrOf(m) : '-', slots || '-'] };
    });
}

/** Per host the plan uses (header first): what it gets, and its memory reserved once the plan
 * runs. Masters and replicas are counted for the redis types. */
export function hostTable(plan: Plan, hosts: HostCapacity[]): string[][] {
  const roles = plan.type !== 'memcache';
  const per = instanceMemMB(plan.maxmemoryMB);
  const rows = hosts.flatMap((h) => {
    const mine = plan.instances.filter((i) => i.host === h.name);
    if (!mine.length) return [];
    const count = (role: string) => String(mine.filter((i) => i.role === role).length);
    const ports = mine.map((i) => i.port).sort((a, b) => a - b);
    return [[h.name, String(mine.length), ...(roles ? [count('master'), count('replica')] : []), portRanges(ports), `${h.usedMemMB + per * mine.length} of ${h.memMB} MB`]];
  });
  return [['HOST', 'INSTANCES', ...(roles ? ['MASTERS', 'REPLICAS'] : []), 'PORTS', 'MEMORY AFTER'], ...rows];
}

/** 7000,7001,7002,7005 -> "7000-7002,7005" */
export function portRanges(sorted: number[]): string {
  const out: string[] = [];
  for (let k = 0; k < sorted.length; ) {
    let j = k;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(j === k ? `${sorted[k]}` : `${sorted[k]}-${sorted[j]}`);
    k = j + 1;
  }
  return out.join(',');
}

/** How to reach a cluster, printed when a create is done: a line per master of a redis cluster
 * (each with its own replicas), the nodes of a memcache cluster. A TLS cluster's clients need the
 * fleet CA (`caFile`, on the operator's machine). */
export function connectHint(plan: Plan, auth: boolean, caFile?: string): string {
  const a = auth ? ' -a "$PASSWORD"' : '';
  const t = plan.tls && caFile ? ` --tls --cacert ${caFile}` : '';
  const masters = plan.instances.filter((i) => i.role === 'master');
  if (plan.type === 'redis_cluster') return `connect: redis-cli${t} -c -h ${masters[0]!.address} -p ${masters[0]!.port}${a}`;
  if (plan.type === 'redis') {
    return masters
      .map((m) => {
        const replicas = plan.instances.filter((i) => i.masterId === m.id).map(addrOf);
        return `connect: redis-cli${t} -h ${m.address} -p ${m.port}${a}   (master; ${replicas.length ? `replicas: ${replicas.join(', ')}` : 'no replicas'})`;
      })
      .join('\n');
  }
  const first = plan.instances[0]!;
  return `connect: ${plan.instances.map(addrOf).join(', ')}   (e.g. printf 'stats\\r\\n' | nc -q1 ${first.address} ${first.port})`;
}
