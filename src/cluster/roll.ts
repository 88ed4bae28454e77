// What a rolling restart or upgrade does, decided from the plan alone (pure): one shard at a
// time; in a shard its replicas first, then a switchover to a restarted replica, the old master
// restarted as a replica, and the switch back, so that never two members of a shard are down
// and the planned roles hold at the end. A shard without a replica (and every memcache node)
// can only be restarted in place, with an outage: allowed only when asked for.
import { versionOf } from './redisconf.js';
import { cannotPromote } from './roles.js';
import { addrOf } from './store.js';
import { binaryType, type HostCapacity, type Plan, type PlannedInstance } from './types.js';

export interface ShardRoll {
  shard: number;
  master: PlannedInstance;
  /** Restarted first, one at a time, each synced again before the next. */
  replicas: PlannedInstance[];
  /** No replica to switch to: the master restarts in place and its data is unavailable meanwhile. */
  inPlace: boolean;
}

/** Shard by shard; `masters` (shard -> id) names each shard's master where a roll began with
 * another layout than the plan has now (a switch made by it). */
export function rollOrder(plan: Plan, masters?: Record<string, string>): ShardRoll[] {
  const shards = [...new Set(plan.instances.map((i) => i.shard))].sort((a, b) => a - b);
  return shards.map((shard) => {
    const members = plan.instances.filter((i) => i.shard === shard);
    const want = masters?.[String(shard)];
    const master = members.find((i) => (want ? i.id === want : i.role !== 'replica')) ?? members.find((i) => i.role !== 'replica')!;
    const replicas = members.filter((i) => i.id !== master.id);
    return { shard, master, replicas, inPlace: !replicas.length };
  });
}

/** Why the roll needs --yes, or undefined: the members restarted in place, with what that costs. */
export function outage(plan: Plan, order: ShardRoll[]): string | undefined {
  const alone = order.filter((s) => s.inPlace).map((s) => `${addrOf(s.master)} (${s.master.host})`);
  if (!alone.length) return undefined;
  const kept = plan.config?.appendonly === 'yes' || (plan.config?.save !== undefined && plan.config.save !== '' && plan.config.save !== '""');
  const data = kept ? 'and reload their data from disk' : 'and come back empty (no persistence is configured: appendonly or save)';
  const what = plan.type === 'memcache' ? 'memcache nodes restart empty' : `masters without a replica restart in place: ${plan.type === 'redis_cluster' ? 'their slots do not answer meanwhile' : 'they do not answer meanwhile'}, ${data}`;
  return `${what}: ${alone.length <= 8 ? alone.join(', ') : `${alone.slice(0, 8).join(', ')} and ${alone.length - 8} more`}`;
}

/** Why a shard's switchover to its first replica cannot be made (roles.ts), or undefined. */
export function switchBlocked(plan: Plan, order: ShardRoll[]): string | undefined {
  return order.flatMap((s) => (s.replicas[0] ? [cannotPromote(plan, s.replicas[0])] : [])).find(Boolean);
}

/** The lines `--check` prints: what happens, shard by shard. */
export function describeRoll(plan: Plan, order: ShardRoll[], version?: string): string[] {
  const on = version && version !== plan.version ? ` on ${version}` : '';
  return order.map((s) => {
    const label = plan.type === 'memcache' ? `node ${s.shard}` : `shard ${s.shard}`;
    if (s.inPlace) return `${label}: restart ${addrOf(s.master)} (${s.master.host})${on} in place`;
    const [stand] = s.replicas;
    const reps = s.replicas.map((r) => `${addrOf(r)} (${r.host})`).join(', then ');
    return `${label}: restart ${reps}${on}; switch to ${addrOf(stand!)}; restart ${addrOf(s.master)} (${s.master.host})${on}; switch back to it`;
  });
}

/**
 * Why `version` cannot replace the cluster's, or undefined: not installed on every host of the
 * cluster (cache-binaries puts it there), or an older Redis than the one running, which cannot
 * read the RDB files a newer one wrote.
 */
export function versionProblem(plan: Plan, version: string, hosts: HostCapacity[]): string | undefined {
  // What runs now: the plan's version and those a stopped upgrade left on some instances.
  const running = [...new Set([plan.version, ...plan.instances.flatMap((i) => (i.version ? [i.version] : []))])];
  const type = binaryType(plan.type);
  const used = [...new Set(plan.instances.map((i) => i.host))].sort();
  const missing = used.filter((h) => !hosts.find((x) => x.name === h)?.versions[type]?.includes(version));
  if (missing.length) return `${type} ${version} is not installed on ${missing.join(', ')} (add it to the inventory's artifacts and run ovl bootstrap; installed there: ${[...new Set(hosts.filter((h) => used.includes(h.name)).flatMap((h) => h.versions[type] ?? []))].join(', ') || 'none'})`;
  if (type === 'redis') {
    const [c, d] = versionOf(version);
    for (const v of running) {
      const [a, b] = versionOf(v);
      if (c < a || (c === a && d < b)) return `redis ${version} is older than ${v}, which runs in the cluster: it cannot read the RDB files ${v} writes (a downgrade needs a new cluster)`;
    }
  }
  return undefined;
}

/** The plan with `id` running `version` (the plan's own version: the override dropped). */
export function withVersion(plan: Plan, id: string, version: string): Plan {
  return {
    ...plan,
    instances: plan.instances.map((i) => {
      if (i.id !== id) return i;
      const { version: _v, ...rest } = i;
      return version === plan.version ? rest : { ...rest, version };
    }),
  };
}

/** The whole plan on `version`: the per-instance versions of an upgrade folded into it. */
export function allOn(plan: Plan, version: string): Plan {
  return { ...plan, version, instances: plan.instances.map(({ version: _v, ...rest }) => rest) };
}
