// Changing a running cluster's settings: what each asked directive is (set live with CONFIG SET,
// or only by a restart), its memory reservation, and the settings in force as the nodes report
// them. The redis.conf ovl renders from the plan stays the one source: the plan changes first,
// the live values and the files on the hosts follow.
import type { Redis } from 'ioredis';
import { withAdmin } from './admin.js';
import { mapLimit } from '../util/semaphore.js';
import type { HostAlloc } from './capacity.js';
import { instanceMemMB } from './placement.js';
import { badDirective, renderRedisConf } from './redisconf.js';
import { addrOf } from './store.js';
import type { HostCapacity, Plan, PlannedInstance } from './types.js';
import type { ClusterAuth } from './auth.js';

/** Directives Redis could change live that ovl changes by a rolling restart: set on every node at
 * once, appendonly starts an AOF rewrite on all of them together. */
const ROLLED = new Set(['appendonly']);

/** Why `name=value` cannot be asked of a cluster of this type, or undefined. */
export function badSetting(plan: Plan, name: string, value: string): string | undefined {
  if (name === 'maxmemory') return memoryMB(value) === undefined ? `maxmemory=${value}: a size such as 512mb or 2gb` : undefined;
  if (plan.type === 'memcache') return `${name}: a memcache cluster has one setting, its memory (maxmemory=SIZE, memcached's -m)`;
  return badDirective(name, value);
}

/** A size in MB (512mb, 2gb, 1024m), or undefined. */
export function memoryMB(value: string): number | undefined {
  const m = /^(\d+)\s*(mb|m|gb|g)$/i.exec(value.trim());
  if (!m) return undefined;
  const n = Number(m[1]) * (/^g/i.test(m[2]!) ? 1024 : 1);
  return n >= 1 && n <= 1024 * 1024 ? n : undefined;
}

export interface Classified {
  /** Set with CONFIG SET on every instance. */
  live: string[];
  /** Only by restarting each instance (rolling). */
  restart: string[];
  /** Directives this Redis does not know (CONFIG GET answers nothing): refused. */
  unknown: string[];
}

/**
 * Ask one node which of `names` it can change live: CONFIG SET of the value in force now changes
 * nothing, and fails for a directive Redis only reads at start. memcache has no live settings.
 */
export async function classify(plan: Plan, names: string[], via: PlannedInstance, auth?: ClusterAuth): Promise<Classified> {
  const out: Classified = { live: [], restart: [], unknown: [] };
  if (plan.type === 'memcache') return { ...out, restart: names };
  await withAdmin(via, { auth }, async (c) => {
    for (const name of names) {
      const got = (await c.call('CONFIG', 'GET', name)) as string[];
      if (!got.length) out.unknown.push(name);
      else if (ROLLED.has(name)) out.restart.push(name);
      else {
        const ok = await c.call('CONFIG', 'SET', name, got[1]!).then(() => true, () => false);
        (ok ? out.live : out.restart).push(name);
      }
    }
  });
  return out;
}

/** The value CONFIG SET is given for a setting (maxmemory from its MB). */
export const liveValue = (name: string, value: string) => (name === 'maxmemory' ? `${memoryMB(value)}mb` : value);

/**
 * Set `live` on one node; Redis refusing a value undoes what was set before it there. Throws
 * Redis's own error naming the directive.
 */
export async function setLive(c: Redis, set: [string, string][]): Promise<void> {
  const before: [string, string][] = [];
  for (const [name, value] of set) {
    const old = ((await c.call('CONFIG', 'GET', name)) as string[])[1] ?? '';
    try {
      await c.call('CONFIG', 'SET', name, liveValue(name, value));
      before.push([name, old]);
    } catch (e) {
      for (const [n, v] of before.reverse()) await c.call('CONFIG', 'SET', n, v).catch(() => undefined);
      throw new Error(`redis refuses ${name}=${value}: ${(e as Error).message}`);
    }
  }
}

/**
 * The hosts' allocations with every instance of the plan reserving memory for `maxmemoryMB`, or
 * the hosts that lack the memory (create's rule: the reservation is maxmemory plus 10 %).
 */
export function resized(plan: Plan, maxmemoryMB: number, hosts: HostCapacity[], allocs: Map<string, HostAlloc>): { allocs: Map<string, HostAlloc>; short: string[] } {
  const per = instanceMemMB(maxmemoryMB);
  const out = new Map<string, HostAlloc>();
  const short: string[] = [];
  for (const host of [...new Set(plan.instances.map((i) => i.host))]) {
    const alloc: HostAlloc = { ...(allocs.get(host) ?? {}) };
    for (const i of plan.instances.filter((x) => x.host === host)) alloc[String(i.port)] = { cluster: plan.cluster, memMB: per };
    const used = Object.values(alloc).reduce((n, a) => n + a.memMB, 0);
    const cap = hosts.find((h) => h.name === host)?.memMB ?? 0;
    if (used > cap) short.push(`${host} would need ${used} MB of its ${cap} MB`);
    out.set(host, alloc);
  }
  return { allocs: out, short };
}

/** Redis's way of reading a size (memtoull), so "64mb" and "67108864" compare equal. */
function normal(v: string): string {
  const s = v.replace(/^"(.*)"$/, '$1').trim().toLowerCase();
  const m = /^(\d+)(k|kb|m|mb|g|gb)?$/.exec(s);
  if (!m) return s;
  const unit = { k: 1e3, kb: 1024, m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3 }[m[2] ?? ''] ?? 1;
  return String(Number(m[1]) * unit);
}

/** Directive -> value as the plan renders them for `inst` (the last line of each name wins). */
export function renderedSettings(plan: Plan, inst: PlannedInstance): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of renderRedisConf(plan, inst).split('\n')) {
    const m = /^([a-z][a-z0-9-]*)\s+(.*)$/.exec(line.trim());
    if (m && !line.trim().startsWith('#')) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** Whether a node's CONFIG GET answer is the rendered value. */
export const sameSetting = (rendered: string, live: string) => normal(rendered) === normal(live);

export interface LiveDifferences {
  /** Directive -> each instance whose live value is not what the plan renders for it. */
  differ: Map<string, { addr: string; live: string }[]>;
  /** Instances that did not answer, with why. */
  unreachable: string[];
}

/** CONFIG GET of `names` on every instance, compared with what the plan renders for each. */
export async function liveDifferences(plan: Plan, names: string[], auth: ClusterAuth | undefined): Promise<LiveDifferences> {
  const out: LiveDifferences = { differ: new Map(), unreachable: [] };
  await mapLimit(plan.instances, 32, async (i) => {
    const want = renderedSettings(plan, i);
    await withAdmin(i, { auth }, async (r) => {
      for (const n of names) {
        const live = ((await r.call('CONFIG', 'GET', n)) as string[])[1];
        const w = want.get(n);
        if (live !== undefined && w !== undefined && !sameSetting(w, live)) out.differ.set(n, [...(out.differ.get(n) ?? []), { addr: addrOf(i), live }]);
      }
    }).catch((e: Error) => out.unreachable.push(`${addrOf(i)} (${e.message})`));
  });
  return out;
}
